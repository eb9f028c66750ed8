"""api: the FastAPI app (HTTP and HTML); thin handlers over gis and layers."""
