"""The HTML page routers: the check page, sign-in, the admin pages."""
