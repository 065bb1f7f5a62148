"""For tests that build their own app: wait until its models are loaded, or serve it with
uvicorn on a real socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from accounts import SERVED as DATABASES
from fastapi.testclient import TestClient


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    """Return once `/readyz` answers 200; fail with its last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"/readyz not 200 after {timeout} s: {client.get('/readyz').json()}")


@contextmanager
def serve_app(app: object, ready_timeout: float = 120.0) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on 127.0.0.1 (a free port), with the connection
    settings `serve` uses; yield its base URL once `/readyz` answers 200, i.e. the models are
    loaded."""
    from contentguard.server.transport import uvicorn_options

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",  # type: ignore[arg-type]
                            **uvicorn_options(app.state.settings))  # type: ignore[attr-defined]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started (see the log above)"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        while httpx.get(f"{base}/readyz").status_code != 200:
            assert time.monotonic() < deadline, f"{base}/readyz not 200 after {ready_timeout} s"
            time.sleep(0.05)
        DATABASES[base] = app.state.db  # type: ignore[attr-defined]
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
