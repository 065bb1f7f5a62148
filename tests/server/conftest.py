"""The app most server tests share (`make_client` and `make_dummy_client` are in
tests/conftest.py): `client` runs on the dummy detectors, since these tests are about the HTTP
surface; tests about the models (test_server_realdata.py) build theirs with `make_client`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(make_dummy_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_dummy_client(fetch_allow_networks=["127.0.0.0/8"]) as client:
        yield client
