"""One settings object for every surface; each field is also an env var `CONTENTGUARD_<NAME>`.

The table of fields (name, default, help) is the single source for the CLI and `docs/settings.md`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

NsfwVariant = Literal["mobilenet_v2", "inception_v3"]


def _default_model_dir() -> Path:
    return Path(user_cache_dir("contentguard")) / "models"


class Settings(BaseSettings):
    """Runtime configuration. Defaults are safe for a laptop; every limit is on by default."""

    model_config = SettingsConfigDict(env_prefix="CONTENTGUARD_", extra="ignore")

    # --- models -------------------------------------------------------------------------
    model_dir: Path = Field(
        default_factory=_default_model_dir,
        description="Where pulled and converted models live (ONNX files and their cards).",
    )
    nsfw_variant: NsfwVariant = Field(
        "mobilenet_v2",
        description="Which GantMan classifier runs: mobilenet_v2 (224 px, fast) or inception_v3.",
    )
    auto_pull: bool = Field(
        True, description="Pull missing models on first use (with a message) instead of failing."
    )
    npm_registry: str = Field(
        "https://registry.npmjs.org", description="npm registry the nsfwjs package comes from."
    )
    pypi_url: str = Field("https://pypi.org", description="PyPI the nudenet wheel comes from.")
    threads: int = Field(
        0, ge=0, description="ONNX Runtime intra-op threads per model; 0 = one per CPU core."
    )
    batch_size: int = Field(16, ge=1, le=256, description="Images per model run.")
    workers: int = Field(
        0, ge=0, description="Decode/pre-process threads; 0 = one per CPU core."
    )

    # --- media limits ----------------------------------------------------------------------
    max_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest accepted input, bytes.")
    max_pixels: int = Field(
        50_000_000, ge=1, description="Largest accepted frame (width × height); bombs refused."
    )
    max_frames: int = Field(
        8, ge=1, le=256, description="Frames sampled from an animation, spread over its length."
    )
    max_total_frames: int = Field(
        10_000, ge=1, description="Animations declaring more frames than this are refused."
    )
    max_animation_pixels: int = Field(
        1_000_000_000,
        ge=1,
        description="Refuse animations whose frames × width × height exceeds this.",
    )
    jpeg_fast_path: bool = Field(
        True,
        description="Decode large JPEGs at reduced size (DCT scaling) when the model input is "
        "much smaller; see docs/media.md for the accuracy measurement.",
    )
    jpeg_fast_path_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="The fast path keeps a JPEG's shorter side at least this many times the "
        "largest model input (1 × 320 px by default; measured in docs/media.md).",
    )
    decode_timeout_s: float = Field(
        10.0, gt=0, description="Give up on one input after this many seconds."
    )

    # --- policy ----------------------------------------------------------------------------
    policy_file: Path | None = Field(
        None, description="YAML policy replacing the built-in default."
    )

    # --- data for tests and benchmarks -------------------------------------------------------
    data_dir: Path = Field(
        Path("../shared/data"),
        description="Real test data (photos, drawings, animated, bad inputs, text).",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def settings_markdown() -> str:
    """The settings table of docs/settings.md (a test keeps the file in step with this)."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable `CONTENTGUARD_<NAME>` (upper case). "
        "Generated from `contentguard.settings.Settings`; `make docs` rewrites this file.",
        "",
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "(user cache)/contentguard/models" if name == "model_dir" else field.default
        lines.append(
            f"| `CONTENTGUARD_{name.upper()}` | `{default}` | {field.description or ''} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
