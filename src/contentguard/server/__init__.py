"""The HTTP surface: the `/v1` API (`api/`), the web UI (`pages/`), health and metrics, and the
transport limits `serve` runs uvicorn with. Layer: surfaces; the only layer that imports FastAPI
(with `bench/`); the work itself is the service's."""

from contentguard.server.app import create_app

__all__ = ["create_app"]
