"""`/v1` end to end: every way of sending an image, the error shape, limits, batches."""

from __future__ import annotations

import base64
import hashlib

import pytest
from helpers.samples import Reply, gif_bytes, image_bytes

from contentguard.schemas import ErrorResult, ModerationResult

PNG = image_bytes(1)


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    ErrorResult.model_validate(body)  # the one error shape
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


def test_multipart_upload_gives_the_result_contract(client) -> None:
    response = client.post("/v1/moderate/image", files={"file": ("cat.png", PNG, "image/png")})
    assert response.status_code == 200, response.text
    result = ModerationResult.model_validate(response.json())
    assert result.id == hashlib.sha256(PNG).hexdigest()
    assert result.source == "cat.png"
    assert result.media_type == "image/png"
    assert (result.width, result.height) == (160, 120)
    assert result.decision in {"allow", "review", "block"}
    assert {m.status for m in result.models} <= {"ok", "skipped"}


def test_raw_body_and_multipart_agree(client) -> None:
    raw = client.post("/v1/moderate/image?name=raw.png", content=PNG, headers={"content-type": "image/png"})
    form = client.post("/v1/moderate/image", files={"file": ("f.png", PNG, "image/png")})
    assert raw.status_code == form.status_code == 200
    assert raw.json()["source"] == "raw.png"
    assert raw.json()["scores"] == form.json()["scores"]
    assert raw.json()["decision"] == form.json()["decision"]


def test_animated_upload_reports_frames(client) -> None:
    response = client.post("/v1/moderate/image", content=gif_bytes(12), headers={"content-type": "image/gif"})
    assert response.status_code == 200
    body = response.json()
    assert body["total_frames"] == 12 and 1 <= body["frames"] <= 8


def test_url_is_fetched_from_an_allowed_network(client) -> None:
    from helpers.samples import http_server

    with http_server({"/pic.png": Reply(PNG, content_type="image/png")}) as base:
        response = client.post("/v1/moderate/image", json={"url": f"{base}/pic.png"})
        form = client.post("/v1/moderate/image", files={"url": (None, f"{base}/pic.png")})
        missing = client.post("/v1/moderate/image", json={"url": f"{base}/nothing.png"})
    assert response.status_code == 200, response.text
    assert response.json()["source"] == f"{base}/pic.png"
    assert response.json()["id"] == hashlib.sha256(PNG).hexdigest()
    assert form.status_code == 200 and form.json()["id"] == response.json()["id"]
    body = assert_error(missing, 502, "fetch_failed")
    assert body["error"]["upstream_status"] == 404
    assert body["source"] == f"{base}/nothing.png"


def test_internal_urls_are_refused_by_default(make_dummy_client) -> None:
    with make_dummy_client() as client:  # no fetch_allow_networks
        for url in ("http://127.0.0.1:8000/", "http://169.254.169.254/latest/meta-data/",
                    "http://[::1]/", "http://10.1.2.3/x.png"):
            assert_error(client.post("/v1/moderate/image", json={"url": url}), 400, "blocked_url")
        response = client.post("/v1/moderate/image", json={"url": "file:///etc/passwd"})
        assert_error(response, 400, "blocked_url")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media"),
        ({"content": b"", "headers": {"content-type": "image/png"}}, 400, "bad_request"),
        ({"content": b"%PDF-1.4 not an image", "headers": {"content-type": "image/png"}}, 415,
         "unsupported_media"),
        ({"content": PNG[: len(PNG) // 2], "headers": {"content-type": "image/png"}}, 422, "decode_failed"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "bad_request"),
        ({"json": {"link": "x"}}, 400, "bad_request"),
        ({"files": {"other": ("a.png", PNG, "image/png")}}, 400, "bad_request"),
        ({"files": {"file": ("a.png", b"", "image/png")}}, 400, "bad_request"),
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
         400, "bad_request"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, kwargs, status, code) -> None:
    assert_error(client.post("/v1/moderate/image", **kwargs), status, code)


def test_unknown_routes_and_methods_share_the_error_shape(client) -> None:
    assert_error(client.get("/v1/nothing"), 404, "not_found")
    assert_error(client.get("/v1/moderate/image"), 405, "method_not_allowed")
    assert_error(client.get("/v1/results/xyz"), 422, "invalid_request")


def test_body_over_the_limit_is_refused_by_content_length(make_dummy_client) -> None:
    with make_dummy_client(max_bytes=10_000) as client:
        big = image_bytes(2, size=(400, 400), fmt="BMP")  # ~480 KB
        assert_error(client.post("/v1/moderate/image", content=big,
                                 headers={"content-type": "image/bmp"}), 413, "too_large")
        # the same check applies to a multipart upload
        assert_error(client.post("/v1/moderate/image", files={"file": ("a.bmp", big, "image/bmp")}),
                     413, "too_large")


def test_body_over_the_limit_is_refused_while_streaming(make_dummy_client) -> None:
    sent = []

    def chunks():  # no Content-Length: chunked transfer
        for _ in range(200):
            sent.append(1)
            yield b"\0" * 65536

    with make_dummy_client(max_bytes=100_000) as client:
        response = client.post("/v1/moderate/image", content=chunks(), headers={"content-type": "image/png"})
    assert_error(response, 413, "too_large")


def test_result_can_be_read_back_by_id(client) -> None:
    data = image_bytes(7)
    posted = client.post("/v1/moderate/image", content=data, headers={"content-type": "image/png"}).json()
    got = client.get(f"/v1/results/{posted['id']}")
    assert got.status_code == 200
    assert got.json() == posted
    assert_error(client.get(f"/v1/results/{'0' * 64}"), 404, "not_found")


def test_batch_keeps_order_and_isolates_failures(client) -> None:
    files = [
        ("file", ("a.png", image_bytes(11), "image/png")),
        ("file", ("broken.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")),
        ("file", ("c.gif", gif_bytes(3), "image/gif")),
        ("url", (None, "http://10.0.0.1/x.png")),
    ]
    response = client.post("/v1/moderate/batch", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["source"] for r in results] == ["a.png", "broken.png", "c.gif", "http://10.0.0.1/x.png"]
    assert results[0]["decision"] in {"allow", "review", "block"}
    assert results[1]["error"]["code"] == "decode_failed"
    assert results[2]["media_type"] == "image/gif"
    assert results[3]["error"]["code"] == "blocked_url"


def test_batch_as_json(client) -> None:
    from helpers.samples import http_server

    with http_server({"/p.png": Reply(PNG, content_type="image/png")}) as base:
        response = client.post("/v1/moderate/batch", json={"items": [
            {"data": base64.b64encode(image_bytes(12)).decode(), "name": "inline.png"},
            {"url": f"{base}/p.png"},
        ]})
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["source"] == "inline.png" and first["id"] == hashlib.sha256(image_bytes(12)).hexdigest()
    assert second["id"] == hashlib.sha256(PNG).hexdigest()


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"url": "http://a.example/x", "data": "AAAA"}]},
        {"items": [{"data": "***not base64***"}]},
        {"items": [{"name": "nothing"}]},
    ],
)
def test_bad_batches_are_refused(client, body) -> None:
    assert_error(client.post("/v1/moderate/batch", json=body), 400, "bad_request")


def test_batch_item_limit(make_dummy_client) -> None:
    with make_dummy_client(max_batch_items=3) as client:
        files = [("file", (f"{n}.png", PNG, "image/png")) for n in range(4)]
        body = assert_error(client.post("/v1/moderate/batch", files=files), 400, "bad_request")
        assert "3" in body["error"]["message"]
        ok = client.post("/v1/moderate/batch", files=files[:3])
        assert ok.status_code == 200 and len(ok.json()["results"]) == 3


def test_more_items_than_the_queue_holds_get_429(make_dummy_client) -> None:
    with make_dummy_client(max_queue=2) as client:
        files = [("file", (f"{n}.png", image_bytes(n), "image/png")) for n in range(3)]
        response = client.post("/v1/moderate/batch", files=files)
        assert_error(response, 429, "overloaded")
        assert response.headers["retry-after"]


def test_cors_is_off_by_default_and_on_when_configured(client, make_dummy_client) -> None:
    headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/moderate/image", headers=headers).headers
    with make_dummy_client(cors_origins=["https://app.example"]) as allowed:
        response = allowed.options("/v1/moderate/image", headers=headers)
        assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_text_one_and_many(client) -> None:
    text = "you are a stupid f.u.c.k.i.n.g idiot"
    one = client.post("/v1/moderate/text", json={"text": text, "source": "c1"})
    assert one.status_code == 200, one.text
    body = ModerationResult.model_validate(one.json())
    assert body.kind == "text" and body.source == "c1" and "profanity" in body.scores
    for reason in body.reasons:
        for ev in reason.evidence or []:
            assert text[ev.start:ev.end] == ev.text
    many = client.post("/v1/moderate/text", json={"texts": ["hello there", "sh1t"]})
    assert many.status_code == 200
    results = many.json()["results"]
    assert [r["source"] for r in results] == ["texts[0]", "texts[1]"]
    assert results[1]["scores"]["profanity"] > results[0]["scores"]["profanity"]
    assert client.get(f"/v1/results/{body.id}").json()["kind"] == "text"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "bad_request"),
        ({"text": "a", "texts": ["b"]}, 400, "bad_request"),
        ({"texts": []}, 422, "invalid_request"),
        ({"texts": ["x"] * 257}, 422, "invalid_request"),
        ({"text": 5}, 422, "invalid_request"),
        ({"text": "hi", "extra": 1}, 422, "invalid_request"),
    ],
)
def test_bad_text_requests(client, body, status, code) -> None:
    assert_error(client.post("/v1/moderate/text", json=body), status, code)


def test_text_over_the_limit_is_413(make_dummy_client) -> None:
    with make_dummy_client(max_text_chars=100) as client:
        assert_error(client.post("/v1/moderate/text", json={"text": "y" * 101}), 413, "too_large")
