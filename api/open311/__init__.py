"""Open311 GeoReport v2, the protocol: parameters in (``params``), answers out (``render``)."""
