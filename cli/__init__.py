"""cli: the `gridmap` command line; the top of the stack, above api/."""
