"""The app most server tests share (`make_client` itself is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(fetch_allow_networks=["127.0.0.0/8"]) as client:
        yield client
