"""One settings object for every surface; each field is also an env var `CONTENTGUARD_<NAME>`.

The table of fields (name, default, help) is the single source for the CLI and `docs/settings.md`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

NsfwVariant = Literal["mobilenet_v2", "inception_v3"]
TextEncoder = Literal["minilm-l6-v2", "minilm-l6-v2-int8"]


def _default_model_dir() -> Path:
    return Path(user_cache_dir("contentguard")) / "models"


def _default_data_home() -> Path:
    return Path(user_data_dir("contentguard"))


#: what a process can be asked to do (`roles`): routers, then background tasks (service/roles.py)
ROLE_NAMES = ("api", "ui", "review", "admin", "jobs", "webhooks", "retention")


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

    # --- text ------------------------------------------------------------------------------
    max_text_chars: int = Field(
        20_000, ge=1, description="Longest text accepted (characters); longer ones are too_large."
    )
    text_chunk_words: int = Field(
        120,
        ge=8,
        le=1000,
        description="Long texts are scored in chunks of this many words (the encoder reads "
        "at most 256 word pieces); the item takes each category's highest chunk.",
    )
    text_encoder: TextEncoder = Field(
        "minilm-l6-v2",
        description="Sentence encoder of the text classifier: the float port (same embeddings as "
        "sentence-transformers) or its int8 quantization (about 2.1× faster on a CPU with "
        "VNNI/AMX, cosine ≈ 0.99 to the float one; docs/text-models.md).",
    )
    text_workers: int = Field(
        0, ge=0, description="Text check/chunk/normalise threads of the service's text moderator "
        "(its own pool, never the one storing uses); 0 = one per CPU core.",
    )
    text_evidence_words: int = Field(
        24,
        ge=0,
        le=200,
        description="Leave-one-word-out attribution for the text classifier looks at most at "
        "this many words of a flagged chunk (0: no classifier evidence).",
    )

    # --- policy ----------------------------------------------------------------------------
    policy_file: Path | None = Field(
        None, description="YAML policy replacing the built-in default."
    )

    # --- URL fetching ---------------------------------------------------------------------------
    fetch_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Private networks (comma-separated CIDRs, e.g. `10.0.0.0/8`) URLs may point "
        "into, for on-premise use. Empty: only public addresses are fetched.",
    )
    fetch_connect_timeout_s: float = Field(5.0, gt=0, description="URL fetch: connect timeout.")
    fetch_read_timeout_s: float = Field(
        10.0, gt=0, description="URL fetch: longest wait for the next bytes of the response."
    )
    fetch_total_timeout_s: float = Field(
        30.0, gt=0, description="URL fetch: give up after this long, retries included."
    )
    fetch_retries: int = Field(
        2, ge=0, le=10, description="URL fetch: retries (with backoff) on timeouts and 5xx."
    )
    fetch_max_redirects: int = Field(
        3, ge=0, le=10, description="URL fetch: redirects followed, each one re-checked."
    )
    fetch_user_agent: str = Field(
        "ContentGuard/0.1 (+content moderation)", description="URL fetch: User-Agent header."
    )

    # --- HTTP service ----------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `contentguard serve` binds (loopback).")
    port: int = Field(8000, ge=0, le=65535, description="Port `contentguard serve` listens on.")
    max_request_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Largest request body (a batch); enforced while the body streams in.",
    )
    max_batch_items: int = Field(32, ge=1, le=256, description="Items in one batch request.")
    max_json_depth: int = Field(
        64, ge=1, le=500, description="Deepest nesting of arrays and objects in a JSON request body; "
        "deeper bodies get 400 bad_request (Python's parser would recurse once per level).",
    )
    max_json_number_chars: int = Field(
        100, ge=20, le=4000, description="Longest number literal in a JSON request body, in characters; "
        "longer ones get 400 bad_request (digits convert to an int in quadratic time).",
    )
    microbatch_size: int = Field(
        16, ge=1, le=256, description="Most items (images, or texts with all their chunks) "
        "concurrent requests share in one model run.",
    )
    microbatch_wait_ms: float = Field(
        4.0, ge=0, le=1000, description="Longest an item waits for others to join its batch."
    )
    max_queue: int = Field(
        256, ge=1, description="Items waiting for the models before requests get 429 `overloaded` "
        "(images and texts each have a queue of this size; a request that would go over is "
        "refused whole).",
    )
    max_pending_jobs: int = Field(
        256, ge=1, description="`?async=true` jobs accepted but not finished (counted in the "
        "database, so across every process on it) before new ones get 429 `overloaded`; a "
        "request that would go over is refused whole.",
    )
    roles: Annotated[list[str], NoDecode] = Field(
        ["all"],
        description="What this process does (comma-separated): routers `api` (moderation, "
        "results, appeals from platforms), `ui` (the check page, sign-in), `review` (queue and "
        "appeals), `admin` (admin API and pages, webhooks); background tasks `jobs` "
        "(`?async=true`), `webhooks` (deliveries), `retention`. `all`: every one. A process "
        "that moderates (`api`, `jobs`) also follows policy changes.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated). "
        "Empty: CORS off.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (comma-separated, e.g. `127.0.0.1,10.0.0.0/8`) of the "
        "reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed. Empty: "
        "those headers are ignored and the client is the connecting address.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request head (request line and headers; chunked trailers count "
        "too), bytes; 431 beyond.",
    )
    max_headers: int = Field(100, ge=8, description="Most header lines in one request; 431 beyond.")
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A request head must arrive within this long of its first byte (and a new "
        "connection must start one within this long); 408 and the connection closed after.",
    )
    body_idle_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest wait for the next bytes of a request body; also the grace before "
        "`body_min_bytes_per_s` applies. 408 and the connection closed after.",
    )
    body_min_bytes_per_s: int = Field(
        1024,
        ge=1,
        description="A request body must arrive at least this fast on average (after "
        "`body_idle_timeout_s` of grace); slower uploads get 408 and the connection closed.",
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, description="An idle keep-alive connection is closed after this long."
    )

    # --- storage, review, accounts (issue #5) ---------------------------------------------------
    data_home: Path = Field(
        default_factory=_default_data_home,
        description="Where the service keeps its SQLite database and the first admin's password.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`. Empty: the SQLite "
        "file `contentguard.db` in `data_home`.",
    )
    retention_days: float = Field(
        90.0, gt=0, description="Stored decisions older than this are deleted (with their reviews)."
    )
    media_retention_days: float = Field(
        30.0, gt=0, description="Media bytes of items sent to review are kept this long."
    )
    review_sample_allow: float = Field(
        0.0, ge=0, le=1, description="Share of `allow` decisions also queued for a quality check."
    )
    review_sample_block: float = Field(
        0.0, ge=0, le=1, description="Share of `block` decisions also queued for a quality check."
    )
    review_lease_s: float = Field(
        300.0, gt=0, description="A claimed review item returns to the queue after this long."
    )
    policy_sync_s: float = Field(
        5.0, gt=0, le=3600, description="Every this many seconds each service process reads the "
        "active policy version from the database and switches to it if another process changed it.",
    )
    session_ttl_h: float = Field(12.0, gt=0, description="Web login sessions last this long.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto",
        description="The session cookie's Secure flag: `auto` sets it on https requests (and "
        "behind a trusted proxy, `trusted_proxies`, that says https).",
    )
    api_key_rate_per_min: int = Field(
        600, ge=1, description="Default requests per minute for a new API key (429 beyond)."
    )
    login_attempts_per_min: int = Field(
        10, ge=1, description="Sign-in attempts a minute from one client address (429 beyond)."
    )
    login_account_failures_per_min: int = Field(
        10,
        ge=1,
        description="Failed sign-ins a minute for one user name, from all addresses together "
        "(429 beyond, until the bucket refills; a successful sign-in costs nothing).",
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=30, description="Webhook deliveries are retried this many times in all."
    )
    webhook_backoff_s: float = Field(
        2.0, gt=0, description="First retry delay of a webhook; doubles on every attempt."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="One webhook delivery's time limit.")

    # --- data for tests and benchmarks -------------------------------------------------------
    data_dir: Path = Field(
        Path("../shared/data"),
        description="Real test data (photos, drawings, animated, bad inputs, text).",
    )

    @field_validator("fetch_allow_networks", "cors_origins", "trusted_proxies", "roles", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """Lists come from the environment as comma-separated text."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        named = [v.strip().lower() for v in value if v.strip()] or ["all"]
        unknown = sorted(set(named) - set(ROLE_NAMES) - {"all"})
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; the roles are all, "
                             f"{', '.join(ROLE_NAMES)}")
        return ["all"] if "all" in named else sorted(set(named))

    @field_validator("fetch_allow_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(f"not a network (CIDR): {net!r}") from exc
        return value

    def resolved_database_url(self) -> str:
        """The database URL in use: the setting, or the SQLite file in `data_home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_home / 'contentguard.db').resolve()}"


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
        if name == "model_dir":
            default = "(user cache)/contentguard/models"
        elif name == "data_home":
            default = "(user data)/contentguard"
        elif field.default_factory is list:
            default = ""
        elif isinstance(field.default, list):
            default = ",".join(field.default)
        else:
            default = field.default
        lines.append(
            f"| `CONTENTGUARD_{name.upper()}` | `{default}` | {field.description or ''} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
