"""Every real file, good or hostile, posted to the API: a result or a 4xx, never a 5xx or a hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contentguard.schemas import ErrorResult, ModerationResult

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def client(make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app on the real models (the folder's `client` runs the dummies)."""
    with make_client(fetch_allow_networks=["127.0.0.0/8"]) as client:
        yield client


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_bad_file_gets_a_4xx_or_a_result(client, data_dir: Path) -> None:
    files = _files(data_dir / "images" / "bad")
    assert len(files) > 100
    statuses: dict[int, int] = {}
    for path in files:
        response = client.post("/v1/moderate/image", files={"file": (path.name, path.read_bytes())})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, f"{path}: {response.status_code} {response.text[:300]}"
        body = response.json()
        if response.status_code == 200:
            ModerationResult.model_validate(body)
        else:
            assert ErrorResult.model_validate(body).error.code in {
                "unsupported_media", "too_large", "decode_failed", "bad_request"
            }, (path, body)
    assert statuses.get(200, 0) > 0 and sum(v for k, v in statuses.items() if k >= 400) > 0


def test_every_real_image_is_moderated_in_batches(client, data_dir: Path) -> None:
    images = [p for sub in ("photos", "drawings", "animated") for p in _files(data_dir / "images" / sub)]
    assert images
    seen = 0
    for start in range(0, len(images), 32):
        chunk = images[start:start + 32]
        files = [("file", (p.name, p.read_bytes())) for p in chunk]
        response = client.post("/v1/moderate/batch", files=files)
        assert response.status_code == 200, response.text[:300]
        results = response.json()["results"]
        assert [r["source"] for r in results] == [p.name for p in chunk]
        seen += sum("decision" in r for r in results)
    assert seen >= 0.95 * len(images)
