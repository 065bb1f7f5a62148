"""The HTTP service: the `/v1` API, health and metrics endpoints and the web UI (surface layer)."""

from contentguard.server.app import create_app

__all__ = ["create_app"]
