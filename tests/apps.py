"""For tests that build their own app: wait until its models are loaded."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    """Return once `/readyz` answers 200; fail with its last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"/readyz not 200 after {timeout} s: {client.get('/readyz').json()}")
