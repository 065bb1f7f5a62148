"""What an image sent to review keeps is what the pipeline read and decoded: the image is opened
once, by the hardened decoder (no second decode with plain Pillow for the thumbnail), and the
thumbnail is made from the very frame the models saw; the stored media is the bytes sent."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

import numpy as np
import PIL.Image
import pytest
from helpers.accounts import make_key
from helpers.samples import gif_bytes, image_bytes
from PIL import Image

from contentguard.media.thumbnail import THUMBNAIL_PX
from contentguard.moderation import image as image_moderation
from contentguard.moderation.image import Item
from contentguard.service.engine import NOBODY
from contentguard.store.tables import StoredMedia


@pytest.fixture(scope="module")
def app_client(review_app):  # type: ignore[no-untyped-def]
    with review_app() as client:
        yield client


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The keyword arguments of every `PIL.Image.open` call from now on (a spy: the real
    function runs). The hardened decoder opens with `formats=[the sniffed format]`."""
    calls: list[dict[str, object]] = []
    real = PIL.Image.open

    def spy(fp, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", spy)
    return calls


def _stored(client, result_id: str) -> StoredMedia:  # type: ignore[no-untyped-def]
    with client.app.state.db.session() as session:
        media = session.get(StoredMedia, result_id)
        assert media is not None, "the item was not kept for review"
        session.expunge(media)
        return media


def _sync(client, key: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    answer = client.post("/v1/moderate/image", content=data,
                         headers={"Authorization": f"Bearer {key}", "content-type": "image/jpeg"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "review"
    return answer.json()["result_id"]


def _async(client, key: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"}
    answer = client.post("/v1/moderate/image?async=true", content=data,
                         headers={**headers, "content-type": "image/jpeg"})
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 60
    while (result := client.get(answer.headers["location"], headers=headers)).status_code == 202:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.05)
    assert result.status_code == 200 and result.json()["decision"] == "review", result.text
    return answer.json()["result_id"]


@pytest.mark.parametrize("send", [_sync, _async], ids=["sync", "async job"])
def test_an_image_sent_to_review_is_decoded_once(
    app_client, opened: list[dict[str, object]], send: Callable[..., str]
) -> None:
    key = make_key(app_client.app.state.db)
    data = image_bytes(31, size=(900, 700), fmt="JPEG")
    result_id = send(app_client, key, data)

    assert opened == [{"formats": ["JPEG"]}], "the image was decoded again to store it for review"
    media = _stored(app_client, result_id)
    assert media.data == data and media.media_type == "image/jpeg"
    thumb = Image.open(io.BytesIO(media.thumbnail))
    assert thumb.format == "JPEG" and max(thumb.size) == THUMBNAIL_PX
    assert thumb.size == (THUMBNAIL_PX, round(THUMBNAIL_PX * 700 / 900))
    # the same picture, scaled: the frame's colours (a left-to-right gradient) survive
    with Image.open(io.BytesIO(data)) as source:
        expected = np.asarray(source.convert("RGB").resize(thumb.size), dtype=float)
    assert np.abs(np.asarray(thumb.convert("RGB"), dtype=float) - expected).mean() < 12


def test_the_thumbnail_is_made_from_the_first_decoded_frame(
    app_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app_client.app.state.engine
    made_from = []
    real = image_moderation.thumbnail

    def spy(frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        made_from.append(frame)
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(image_moderation, "thumbnail", spy)
    animation = gif_bytes(6)  # frame i is the colour (12 i, 80, 200 - 5 i)
    done = engine.require_ready().submit(Item.from_bytes(animation, "anim.gif")).result(60)
    read = done.prepared.read
    assert read.data is animation, "the bytes were read again"
    assert read.media_type == "image/gif" and read.first_frame.index == 0
    assert done.outcome.decision == "review" and done.outcome.total_frames == 6

    asyncio.run(engine.store([done.outcome], NOBODY, [read]))

    assert len(made_from) == 1 and made_from[0] is read.first_frame
    media = _stored(app_client, done.outcome.result_id)
    assert media.data == animation and media.media_type == "image/gif"
    thumb = Image.open(io.BytesIO(media.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (48, 32)
    colour = np.asarray(thumb.convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)
    assert np.abs(colour - (0, 80, 200)).max() < 8, colour
