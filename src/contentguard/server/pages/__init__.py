"""The HTML page routers."""
