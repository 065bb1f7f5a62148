"""The application shared by every surface: the engine (moderators behind their batchers,
storing results and review items), asynchronous jobs, webhook delivery, the admin's
operations, named background tasks and roles. Layer: service; imports store, moderation and
below — never FastAPI, Starlette or uvicorn, so workers and stream consumers run it without the
HTTP server."""
