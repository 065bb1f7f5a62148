"""The offensive-language model of the PyPI wheel `alt-profanity-check`, exported without pickles.

The wheel ships a scikit-learn TfidfVectorizer and a CalibratedClassifierCV (5 sigmoid-calibrated
LinearSVC folds) as joblib pickles that only scikit-learn 1.9.1 loads. Unpickling runs code, so the
pickles' sha256 is checked first, and they are loaded once, at `models pull` time. Everything
prediction needs (vocabulary, idf, fold weights, calibration, tokenizer settings) is written into
one plain `.npz` that serving reads with NumPy alone (`contentguard.detectors.text.profanity`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from contentguard import extras
from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.models.download import Progress, fetch_pypi_wheel, file_sha256
from contentguard.models.spec import ModelSpec, PullContext

NAME = "profanity"
PACKAGE = "alt-profanity-check"
VERSION = "1.9.1"
WHEEL = f"alt_profanity_check-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "cccb8ce072306bac21188670777a25cfb1de978aa8c7a93c8e4a43c03b3945c3"
SKLEARN_VERSION = "1.9.1"  # the package pins it; its pickles were made with it
PICKLES = {  # wheel member -> sha256, checked before anything is unpickled
    "profanity_check/data/vectorizer.joblib":
        "19c5200dc6a41f026e0558e2f164f5fe8d8f58e502b46b37e4385037fcfa4831",
    "profanity_check/data/model.joblib":
        "aeafc04849d4d93db4721cf30a86ebf22085595294b8a07d51918e7fa98f538b",
}
INTEGRITY = f"sha256:{WHEEL_SHA256} (pickles: " + ", ".join(
    f"{member.rsplit('/', 1)[1]} sha256:{sha}" for member, sha in PICKLES.items()
) + ")"
FORMAT = "contentguard-profanity/1"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
ARRAYS = ("terms", "idf", "coef", "intercept", "sigmoid_a", "sigmoid_b", "config")
# The settings the NumPy runtime implements; anything else in the pickles is refused, not guessed.
_VECTORIZER_PARAMS = {
    "input": "content", "analyzer": "word", "lowercase": True, "preprocessor": None,
    "tokenizer": None, "strip_accents": None, "token_pattern": TOKEN_PATTERN,
    "ngram_range": (1, 1), "binary": False, "norm": "l2", "use_idf": True, "sublinear_tf": False,
}

SPECS: dict[str, ModelSpec] = {
    "profanity-check": ModelSpec(
        name="profanity-check",
        description="alt-profanity-check offensive-language model (TF-IDF + 5 sigmoid-calibrated "
        'linear SVMs), P(offensive) per text, exported to .npz; false positives on innocent '
        'single words ("lazy" 0.67, "dog" 0.50)',
        version=f"alt-profanity-check-{VERSION}",
        licence="MIT (alt-profanity-check; wheel metadata and LICENSE file agree)",
        classes=("offensive",),
        input_size=0,
        parity="max |Δp| vs profanity_check.predict_prob: 2.2e-16 on 30,357 texts (Davidson "
        "tweets + SMS spam), 98.8% bit-identical (tests/text)",
        source_integrity=INTEGRITY,
        source=NAME,
        suffix=".npz",
    ),
}
_PROBES = (
    "", "hello there", "you are a lazy dog", "What the FUCK is this shit?!", "ΣΟΦΙΑ naïve café",
    "go to hell, idiot", "I love my mum's apple pie", "stupid stupid stupid", "12345 __init__",
)


def pull(spec: ModelSpec, ctx: PullContext) -> str:
    """Write the exported model to `ctx.dest`; returns where the pickles came from."""
    blobs, origin = _installed_pickles() if ctx.use_installed else (None, "")
    if blobs is None:
        wheel = fetch_wheel(ctx.settings.pypi_url, ctx.downloads, ctx.progress)
        blobs, origin = wheel_pickles(wheel), f"PyPI {WHEEL}"
    vectorizer, model = _unpickle(blobs)
    arrays = export(vectorizer, model)
    _self_check(arrays, vectorizer, model)
    tmp = ctx.dest.with_suffix(".part")
    write_npz(tmp, arrays)
    tmp.replace(ctx.dest)
    return f"{origin} (profanity_check/data/*.joblib, exported to .npz)"


def fetch_wheel(pypi_url: str, download_dir: Path, progress: Progress | None = None) -> Path:
    """The pinned wheel (see `download.fetch_pypi_wheel`)."""
    return fetch_pypi_wheel(pypi_url, PACKAGE, WHEEL, WHEEL_SHA256, download_dir, progress)


def wheel_pickles(wheel: Path) -> dict[str, bytes]:
    """The two pickles' bytes from the wheel, each checked against its pinned hash."""
    with zipfile.ZipFile(wheel) as archive:
        blobs = {member: archive.read(member) for member in PICKLES}
    for member, data in blobs.items():
        _check_blob(member, data)
    return blobs


def _check_blob(member: str, data: bytes) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != PICKLES[member]:
        raise ModelIntegrityError(
            f"{member}: sha256 mismatch (expected {PICKLES[member]}, got {actual}); not unpickling it"
        )


def _installed_pickles() -> tuple[dict[str, bytes] | None, str]:
    """The pickles of an installed `profanity_check` (found, not imported), if their hashes match."""
    spec = importlib.util.find_spec("profanity_check")
    if spec is None or not spec.submodule_search_locations:
        return None, ""
    root = Path(next(iter(spec.submodule_search_locations))).parent
    blobs = {}
    for member, sha in PICKLES.items():
        path = root / member
        if not path.is_file() or file_sha256(path) != sha:
            return None, ""
        blobs[member] = path.read_bytes()
    return blobs, f"installed package {PACKAGE}=={VERSION} ({root / 'profanity_check'})"


def _unpickle(blobs: dict[str, bytes]) -> tuple[Any, Any]:
    """joblib-load the (hash-checked) pickles; needs scikit-learn 1.9.1, at pull time only."""
    joblib = extras.require("joblib", purpose="pulling profanity-check")
    sklearn = extras.require("sklearn", purpose="pulling profanity-check")
    if sklearn.__version__ != SKLEARN_VERSION:
        raise ModelUnavailable(
            f"pulling profanity-check loads {PACKAGE}'s pickles once, which needs "
            f"scikit-learn=={SKLEARN_VERSION} and joblib (found scikit-learn {sklearn.__version__}); "
            f"run `pip install 'scikit-learn=={SKLEARN_VERSION}' joblib` (serving does not need them)"
        )
    vectorizer = joblib.load(io.BytesIO(blobs["profanity_check/data/vectorizer.joblib"]))
    model = joblib.load(io.BytesIO(blobs["profanity_check/data/model.joblib"]))
    return vectorizer, model


def export(vectorizer: Any, model: Any) -> dict[str, np.ndarray]:
    """The arrays prediction needs, after checking the pickles are exactly the supported kind."""
    terms = _check_vectorizer(vectorizer)
    folds = _check_classifier(model, len(terms))
    config = {
        "format": FORMAT,
        "source": {
            "package": f"{PACKAGE}=={VERSION}", "wheel_sha256": WHEEL_SHA256,
            "pickles_sha256": PICKLES, "scikit_learn": SKLEARN_VERSION,
        },
        "vectorizer": {
            "lowercase": True, "token_pattern": TOKEN_PATTERN, "ngram_range": [1, 1],
            "stop_words": "english (none is in the vocabulary: nothing to remove)",
            "tf": "raw counts", "idf": "smoothed, stored", "norm": "l2",
        },
        "classifier": {
            "kind": "CalibratedClassifierCV(LinearSVC), ensemble", "method": "sigmoid",
            "folds": len(folds), "classes": ["clean", "offensive"],
            "predict_proba": "mean over folds of 1 / (1 + exp(a*d + b)), d = x . coef + intercept",
        },
    }
    return {
        "terms": _utf8("\n".join(terms)),
        "idf": np.asarray(vectorizer.idf_, dtype=np.float64),
        "coef": np.stack([f.estimator.coef_[0] for f in folds]).astype(np.float64),
        "intercept": np.array([f.estimator.intercept_[0] for f in folds], dtype=np.float64),
        "sigmoid_a": np.array([f.calibrators[0].a_ for f in folds], dtype=np.float64),
        "sigmoid_b": np.array([f.calibrators[0].b_ for f in folds], dtype=np.float64),
        "config": _utf8(json.dumps(config, indent=1, sort_keys=True)),
    }


def _utf8(text: str) -> np.ndarray:
    """Text as a uint8 array: an .npz member that loads without pickle and without UTF-32 bloat."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _check_vectorizer(vectorizer: Any) -> list[str]:
    """The vocabulary in column order, if the vectorizer is what the runtime reimplements."""
    if type(vectorizer).__name__ != "TfidfVectorizer":
        raise ModelIntegrityError(f"expected a TfidfVectorizer, found {type(vectorizer).__name__}")
    params = vectorizer.get_params()
    for key, expected in _VECTORIZER_PARAMS.items():
        if params.get(key) != expected:
            raise ModelIntegrityError(f"vectorizer {key}={params.get(key)!r}, expected {expected!r}")
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    if [vectorizer.vocabulary_[t] for t in terms] != list(range(len(terms))):
        raise ModelIntegrityError("vectorizer vocabulary indices are not 0..n-1")
    if not all(re.fullmatch(TOKEN_PATTERN, t) for t in terms) or vectorizer.idf_.shape != (len(terms),):
        raise ModelIntegrityError("vectorizer vocabulary is not single tokens, or idf has another shape")
    stop = vectorizer.get_stop_words() or frozenset()
    if stop & set(terms):
        raise ModelIntegrityError("stop words in the vocabulary: the runtime would not remove them")
    return terms


def _check_classifier(model: Any, n_terms: int) -> list[Any]:
    """The calibrated folds, if each is a binary LinearSVC with one sigmoid calibrator."""
    if type(model).__name__ != "CalibratedClassifierCV" or model.method != "sigmoid":
        raise ModelIntegrityError("expected a sigmoid-calibrated CalibratedClassifierCV")
    if list(model.classes_) != [0, 1]:
        raise ModelIntegrityError(f"expected classes [0, 1], found {list(model.classes_)}")
    folds = list(model.calibrated_classifiers_)
    for fold in folds:
        svc = fold.estimator
        if (
            type(svc).__name__ != "LinearSVC" or svc.coef_.shape != (1, n_terms)
            or list(svc.classes_) != [0, 1] or len(fold.calibrators) != 1
            or type(fold.calibrators[0]).__name__ != "_SigmoidCalibration"
        ):
            raise ModelIntegrityError("a calibrated fold is not a binary LinearSVC + sigmoid")
    return folds


def _self_check(arrays: dict[str, np.ndarray], vectorizer: Any, model: Any) -> None:
    """The exported weights and calibration give scikit-learn's probabilities on its own tf-idf.

    (The tokenizer is pinned by `_VECTORIZER_PARAMS`; end-to-end parity is in the tests.)
    """
    x = vectorizer.transform(list(_PROBES))
    margins = np.asarray(x @ arrays["coef"].T) + arrays["intercept"]
    ours = (1.0 / (1.0 + np.exp(arrays["sigmoid_a"] * margins + arrays["sigmoid_b"]))).mean(axis=1)
    theirs = model.predict_proba(x)[:, 1]
    if not np.allclose(ours, theirs, rtol=0, atol=1e-12):
        raise ModelIntegrityError("exported profanity model disagrees with scikit-learn")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed member order and timestamps, so the same model gives the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ARRAYS:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(info, buffer.getvalue())
