"""One error hierarchy: each error has a stable `code` (the result contract's) and an HTTP status."""

from __future__ import annotations


class ContentGuardError(Exception):
    """Base of every error we raise on purpose; anything else is a bug."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class UnsupportedMedia(ContentGuardError):
    code = "unsupported_media"
    http_status = 415


class TooLarge(ContentGuardError):
    code = "too_large"
    http_status = 413


class DecodeFailed(ContentGuardError):
    code = "decode_failed"
    http_status = 422


class FetchFailed(ContentGuardError):
    code = "fetch_failed"
    http_status = 502


class BlockedUrl(ContentGuardError):
    code = "blocked_url"
    http_status = 400


class Timeout(ContentGuardError):
    code = "timeout"
    http_status = 504


class NotFound(ContentGuardError):
    code = "not_found"
    http_status = 404


class InvalidPolicy(ContentGuardError):
    code = "invalid_policy"
    http_status = 422


class ModelUnavailable(ContentGuardError):
    """A model is missing and could not be pulled (offline, registry down, bad hash)."""

    code = "model_unavailable"
    http_status = 503


class ModelIntegrityError(ModelUnavailable):
    code = "model_integrity"


# --- request-level errors of the HTTP service (same shape, no item) -----------------------------
class BadRequest(ContentGuardError):
    """The request itself is malformed: no image in it, a bad URL, too many items."""

    code = "bad_request"
    http_status = 400


class InvalidRequest(ContentGuardError):
    """The request parses but a field is invalid (FastAPI's validation errors land here)."""

    code = "invalid_request"
    http_status = 422


class Overloaded(ContentGuardError):
    """More items are waiting for the models than `max_queue`; the client should retry."""

    code = "overloaded"
    http_status = 429


class NotReady(ContentGuardError):
    """The models are still loading (or failed to load); `/readyz` says which."""

    code = "not_ready"
    http_status = 503


# --- accounts and workflow (issue #5) ---------------------------------------------------------------
class Unauthorized(ContentGuardError):
    """No valid credentials: an API key (`Authorization: Bearer …`) or a signed-in session."""

    code = "unauthorized"
    http_status = 401


class Forbidden(ContentGuardError):
    """Valid credentials without the role or scope the route needs (or a missing CSRF token)."""

    code = "forbidden"
    http_status = 403


class Conflict(ContentGuardError):
    """The state changed under the request: an item claimed by someone else, a name taken."""

    code = "conflict"
    http_status = 409


class RateLimited(ContentGuardError):
    """An API key went over its requests per minute; retry after `Retry-After` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- optional dependencies ---------------------------------------------------------------------------
class ExtraMissing(ContentGuardError):
    """A feature needs an optional dependency that is not installed (`contentguard.extras`); the
    message names the pip extra. Reported as `model_unavailable`, the contract's code for "this
    process cannot run that part", so the result contract needs no new code."""

    code = "model_unavailable"
    http_status = 503
