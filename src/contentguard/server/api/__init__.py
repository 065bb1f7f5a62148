"""The JSON API routers under `/v1` (and health): one module per area."""
