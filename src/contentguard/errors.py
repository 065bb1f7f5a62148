"""One error hierarchy and one table of its codes.

`CODES` is the only list of the result contract's error codes: `schemas.ErrorCode` is made from
it, every error class takes its HTTP status from it, and the HTTP service answers by it
(`server/errors.py`). A new code is one row here (and its line in docs/result-contract.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One error code of the contract: the HTTP status it answers with and what it means."""

    status: int
    meaning: str
    #: the code of a bare HTTP error with this status (Starlette's own 404, 405, …)
    bare: bool = False


CODES: dict[str, Code] = {
    # items: a file, a URL or a text that could not be moderated
    "unsupported_media": Code(415, "not a media type we accept", bare=True),
    "too_large": Code(413, "over a byte, pixel, frame or character limit", bare=True),
    "decode_failed": Code(422, "a damaged or truncated file"),
    "fetch_failed": Code(502, "the remote server could not be reached or answered with an error"),
    "blocked_url": Code(400, "a URL that is not http(s) or points at a non-public address"),
    "timeout": Code(504, "decoding or fetching took longer than its limit"),
    "not_found": Code(404, "no such path, route or stored object", bare=True),
    "invalid_policy": Code(422, "a policy that cannot be read or is not valid"),
    "model_unavailable": Code(503, "a model or optional dependency this process needs is missing"),
    "model_integrity": Code(503, "a model file failed its hash check"),
    "unknown_detector": Code(400, "a policy names a detector that no installed package registers"),
    "internal_error": Code(500, "a bug: please report it"),
    # requests to the HTTP service: no item is involved
    "bad_request": Code(400, "a request that cannot be read", bare=True),
    "invalid_request": Code(422, "a request with an invalid field", bare=True),
    "overloaded": Code(429, "more work is waiting than the queue holds; retry", bare=True),
    "not_ready": Code(503, "the models are still loading (or failed to load)", bare=True),
    "method_not_allowed": Code(405, "the route exists but not for this method", bare=True),
    # accounts and workflow
    "unauthorized": Code(401, "no valid API key or session", bare=True),
    "forbidden": Code(403, "valid credentials without the role, scope or CSRF token", bare=True),
    "conflict": Code(409, "the state changed under the request"),
    "rate_limited": Code(429, "an API key went over its requests per minute; retry"),
}


def contract_code(code: str) -> str:
    """`code` if the contract has it, else `internal_error`: a plugin's own error class may
    carry a code the contract does not know, and clients only ever see the contract's."""
    return code if code in CODES else "internal_error"


class ContentGuardError(Exception):
    """Base of every error we raise on purpose; anything else is a bug.

    A subclass names its `code`; its `http_status` comes from `CODES` (declaring a different
    one is a `TypeError` when the class is made)."""

    code = "internal_error"
    http_status = CODES["internal_error"].status

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        row = CODES.get(cls.code)
        if row is None:  # a plugin's own code: answered as internal_error (`contract_code`)
            return
        declared = cls.__dict__.get("http_status")
        if declared is not None and declared != row.status:
            raise TypeError(f"{cls.__name__}: code {cls.code!r} answers {row.status}, not {declared}")
        cls.http_status = row.status

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


class TooLarge(ContentGuardError):
    code = "too_large"


class DecodeFailed(ContentGuardError):
    code = "decode_failed"


class FetchFailed(ContentGuardError):
    code = "fetch_failed"


class BlockedUrl(ContentGuardError):
    code = "blocked_url"


class Timeout(ContentGuardError):
    code = "timeout"


class NotFound(ContentGuardError):
    code = "not_found"


class InvalidPolicy(ContentGuardError):
    code = "invalid_policy"


class ModelUnavailable(ContentGuardError):
    """A model is missing and could not be pulled (offline, registry down, bad hash)."""

    code = "model_unavailable"


class ModelIntegrityError(ModelUnavailable):
    code = "model_integrity"


# --- request-level errors of the HTTP service (same shape, no item) -----------------------------
class BadRequest(ContentGuardError):
    """The request itself is malformed: no image in it, a bad URL, too many items."""

    code = "bad_request"


class InvalidRequest(ContentGuardError):
    """The request parses but a field is invalid (FastAPI's validation errors land here)."""

    code = "invalid_request"


class Overloaded(ContentGuardError):
    """More items are waiting for the models than `max_queue`; the client should retry."""

    code = "overloaded"


class NotReady(ContentGuardError):
    """The models are still loading (or failed to load); `/readyz` says which."""

    code = "not_ready"


# --- accounts and workflow (issue #5) ---------------------------------------------------------------
class Unauthorized(ContentGuardError):
    """No valid credentials: an API key (`Authorization: Bearer …`) or a signed-in session."""

    code = "unauthorized"


class Forbidden(ContentGuardError):
    """Valid credentials without the role or scope the route needs (or a missing CSRF token)."""

    code = "forbidden"


class Conflict(ContentGuardError):
    """The state changed under the request: an item claimed by someone else, a name taken."""

    code = "conflict"


class RateLimited(ContentGuardError):
    """An API key went over its requests per minute; retry after `Retry-After` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- optional dependencies ---------------------------------------------------------------------------
class ExtraMissing(ContentGuardError):
    """A feature needs an optional dependency that is not installed (`contentguard.extras`); the
    message names the pip extra. Reported as `model_unavailable`, the contract's code for "this
    process cannot run that part", so the result contract needs no new code."""

    code = "model_unavailable"
