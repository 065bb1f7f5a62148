"""One table of error codes (`errors.CODES`): every error class, the contract's `ErrorCode`,
the error objects and the HTTP service's statuses agree with it."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Iterator
from typing import get_args

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers.samples import image_bytes
from starlette.exceptions import HTTPException

import contentguard
from contentguard.detectors.base import ImageDetector, Prepared, Signals
from contentguard.errors import CODES, ContentGuardError, RateLimited
from contentguard.media.types import Frame
from contentguard.moderation.assemble import error_result
from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.schemas import ErrorCode, ErrorDetail, ErrorResult
from contentguard.server.errors import install, status_of
from contentguard.service import engine


def _our_error_classes() -> list[type[ContentGuardError]]:
    """Every ContentGuardError subclass in the package (every module imported first, so a class
    in any layer is found), the base included."""
    for module in pkgutil.walk_packages(contentguard.__path__, "contentguard."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    def walk(cls: type[ContentGuardError]) -> Iterator[type[ContentGuardError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    found = {cls for cls in walk(ContentGuardError) if cls.__module__.startswith("contentguard.")}
    return [ContentGuardError, *sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")]


CLASSES = _our_error_classes()


def _raise(cls: type[ContentGuardError]) -> ContentGuardError:
    return cls(f"a {cls.__name__}")


def test_the_walk_finds_the_classes_outside_errors_py() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"UnknownDetector", "ExportError", "DatabaseError", "ExtraMissing", "NotReady"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_has_a_code_of_the_table_and_its_status(cls: type[ContentGuardError]) -> None:
    assert cls.code in CODES, f"{cls.__name__}.code {cls.code!r} is not in errors.CODES"
    assert cls.http_status == CODES[cls.code].status


def test_the_contract_error_code_is_the_table() -> None:
    assert get_args(ErrorCode) == tuple(CODES)
    schema = ErrorDetail.model_json_schema()["properties"]["code"]
    assert schema["enum"] == list(CODES) and schema["type"] == "string"
    assert "unknown_detector" in get_args(ErrorCode)  # the code that was missing (issue #14)


def test_every_code_has_a_status_and_a_meaning() -> None:
    for code, row in CODES.items():
        assert 400 <= row.status < 600, code
        assert row.meaning and "\n" not in row.meaning, code


def test_at_most_one_bare_code_per_status() -> None:
    bare = Counter(row.status for row in CODES.values() if row.bare)
    assert all(n == 1 for n in bare.values()), bare


@pytest.mark.parametrize("code", list(CODES))
def test_an_error_result_builds_for_every_code(code: str) -> None:
    detail = ErrorDetail(code=code, message="m")  # type: ignore[arg-type]
    assert ErrorResult(source="x", error=detail).model_dump(mode="json")["error"]["code"] == code
    assert status_of(ErrorResult(source=None, error=detail)) == CODES[code].status


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_error_result_of_every_class_keeps_its_code(cls: type[ContentGuardError]) -> None:
    result = error_result("item.png", _raise(cls))
    assert result.error.code == cls.code and result.duration_ms is None
    assert status_of(result) == cls.http_status


class PluginError(ContentGuardError):
    """A plugin's own error, with a code the contract does not have."""

    code = "plugin_specific"


def test_a_code_outside_the_contract_is_internal_error() -> None:
    assert PluginError.code not in CODES
    result = error_result("item.png", PluginError("it broke", upstream_status=418), started=0.0)
    assert result.error.code == "internal_error" and result.error.message == "it broke"
    assert result.error.upstream_status == 418 and result.duration_ms is not None
    assert status_of(result) == 500


def test_the_service_builds_errors_with_the_same_function() -> None:
    assert engine.error_result is error_result


def test_a_class_declaring_another_status_than_the_table_is_refused() -> None:
    with pytest.raises(TypeError, match="answers 404, not 400"):
        type("Wrong", (ContentGuardError,), {"code": "not_found", "http_status": 400})
    right = type("Right", (ContentGuardError,), {"code": "not_found", "http_status": 404})
    assert right.http_status == 404
    assert type("Inherited", (ContentGuardError,), {"code": "conflict"}).http_status == 409


class Refuses(ImageDetector):
    """An image plugin whose pre-processing raises its own error class."""

    name = "refuses"

    @property
    def model_name(self) -> str:
        return "refuses"

    @property
    def version(self) -> str:
        return "1"

    def preprocess(self, frame: Frame) -> Prepared:
        raise PluginError("this plugin refuses every image")

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return inputs

    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        return Signals()


def test_the_image_moderator_reports_a_plugin_code_as_internal_error(settings) -> None:  # type: ignore[no-untyped-def]
    with Moderator(settings, Policy.default(), [Refuses(settings)]) as moderator:
        outcome = moderator.moderate(image_bytes(7), "plugin.png")
    assert isinstance(outcome, ErrorResult)
    assert outcome.error.code == "internal_error" and "refuses" in outcome.error.message
    assert outcome.source == "plugin.png" and outcome.duration_ms is not None


# --- the HTTP service answers by the table ------------------------------------------------------
@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install(app)
    by_name = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in [*CLASSES, PluginError]}

    @app.get("/raise/{name}")
    def _raise_one(name: str) -> None:
        cls = by_name[name]
        raise cls("limited", retry_after=2) if issubclass(cls, RateLimited) else _raise(cls)

    @app.get("/http/{status}")
    def _http(status: int) -> None:
        raise HTTPException(status)

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_server_answers_every_error_class_with_the_table_status(client: TestClient, cls) -> None:  # type: ignore[no-untyped-def]
    answer = client.get(f"/raise/{cls.__module__}.{cls.__qualname__}")
    assert answer.status_code == CODES[cls.code].status
    assert answer.json()["error"]["code"] == cls.code


def test_the_server_answers_a_plugin_code_as_internal_error(client: TestClient) -> None:
    answer = client.get(f"/raise/{PluginError.__module__}.{PluginError.__qualname__}")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("code", [code for code, row in CODES.items() if row.bare])
def test_a_bare_http_error_gets_the_table_code_of_its_status(client: TestClient, code: str) -> None:
    answer = client.get(f"/http/{CODES[code].status}")
    assert answer.status_code == CODES[code].status
    assert answer.json()["error"]["code"] == code


@pytest.mark.parametrize(("status", "code"), [(418, "bad_request"), (501, "internal_error")])
def test_a_status_with_no_bare_code_falls_back(client: TestClient, status: int, code: str) -> None:
    answer = client.get(f"/http/{status}")
    assert answer.status_code == status and answer.json()["error"]["code"] == code
