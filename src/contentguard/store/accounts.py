"""Users, web sessions and API keys. Passwords: argon2id; session tokens and API keys: only
their sha256 is stored (they are 256-bit random, so a fast hash is enough and lookups are exact).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from contentguard.clean_str import problem
from contentguard.errors import Conflict, InvalidRequest, NotFound
from contentguard.store import audit
from contentguard.store.tables import ApiKey, User, WebSession, utcnow

USER_ROLES = ("admin", "moderator")
SCOPES = ("moderate", "appeal", "results")
KEY_PREFIX = "cg_"
MIN_PASSWORD = 10
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{2,64}$"  # also the API's schema for it
_USERNAME = re.compile(USERNAME_PATTERN)  # used with fullmatch: `$` alone lets a final \n through
_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("not a real password")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_roles(user: User) -> frozenset[str]:
    """An admin can do everything a moderator can."""
    return frozenset({"admin", "moderator"}) if user.role == "admin" else frozenset({user.role})


# --- users -------------------------------------------------------------------------------------
def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"a password needs at least {MIN_PASSWORD} characters")
    why = problem(password)  # a lone surrogate cannot be hashed (UTF-8)
    if why is not None:
        raise InvalidRequest(f"the password {why}")


def create_user(session: Session, username: str, password: str, role: str, actor: str) -> User:
    if not _USERNAME.fullmatch(username):
        raise InvalidRequest("a username is 2–64 letters, digits or . _ @ -")
    if role not in USER_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(USER_ROLES)}")
    check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"a user named {username!r} exists already")
    user = User(username=username, password_hash=_hasher.hash(password), role=role, active=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id,
                 after={"username": username, "role": role})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same work either way)."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def set_password(session: Session, user: User, password: str, actor: str) -> None:
    check_password(password)
    user.password_hash = _hasher.hash(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))  # sign out everywhere
    audit.record(session, actor, "user.password", "user", user.id)


def update_user(session: Session, user_id: int, actor: str, *, role: str | None = None,
                active: bool | None = None) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    before = {"role": user.role, "active": user.active}
    if role is not None:
        if role not in USER_ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(USER_ROLES)}")
        user.role = role
    if active is not None:
        user.active = active
    if user.role != "admin" or not user.active:
        others = session.scalar(select(func.count()).select_from(User).where(
            User.role == "admin", User.active.is_(True), User.id != user.id))
        if not others:
            raise Conflict("this is the last active admin; make another admin first")
    if not user.active:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(session, actor, "user.update", "user", user.id, before=before,
                 after={"role": user.role, "active": user.active})
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


# --- web sessions ---------------------------------------------------------------------------------
def create_session(session: Session, user: User, ttl_h: float) -> tuple[str, WebSession]:
    """A new session for `user`; returns the cookie token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=ttl_h),
    )
    session.add(row)
    session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))  # tidy up
    return token, row


def find_session(session: Session, token: str) -> tuple[WebSession, User] | None:
    row = session.get(WebSession, token_hash(token))
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == token_hash(token)))


# --- API keys ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewKey:
    key: str  # shown once
    row: ApiKey


def create_api_key(
    session: Session,
    name: str,
    scopes: list[str],
    rate_limit_per_min: int,
    actor: str,
    created_by: int | None = None,
    callback_url: str | None = None,
) -> NewKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidRequest("a key needs a name of 1–100 characters")
    why = problem(name)
    if why is not None:
        raise InvalidRequest(f"the key's name {why}")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise InvalidRequest(f"scopes must be among {', '.join(SCOPES)} (at least one)")
    if rate_limit_per_min < 1:
        raise InvalidRequest("rate limit must be at least 1 request per minute")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:11],
        key_hash=token_hash(key),
        scopes=sorted(set(scopes)),
        rate_limit_per_min=rate_limit_per_min,
        callback_url=callback_url or None,
        webhook_secret=secrets.token_urlsafe(32),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "key.create", "api_key", row.id,
                 after={"name": name, "prefix": row.prefix, "scopes": row.scopes,
                        "rate_limit_per_min": rate_limit_per_min, "callback_url": row.callback_url})
    return NewKey(key, row)


def find_api_key(session: Session, key: str) -> ApiKey | None:
    if not key.startswith(KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_api_key(session: Session, key_id: int, actor: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "key.revoke", "api_key", row.id,
                     before={"revoked": False}, after={"revoked": True})
    return row


def update_api_key(session: Session, key_id: int, actor: str, *,
                   callback_url: str | None = None, rate_limit_per_min: int | None = None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    before = {"callback_url": row.callback_url, "rate_limit_per_min": row.rate_limit_per_min}
    if callback_url is not None:
        row.callback_url = callback_url or None
    if rate_limit_per_min is not None:
        if rate_limit_per_min < 1:
            raise InvalidRequest("rate limit must be at least 1 request per minute")
        row.rate_limit_per_min = rate_limit_per_min
    audit.record(session, actor, "key.update", "api_key", row.id, before=before,
                 after={"callback_url": row.callback_url, "rate_limit_per_min": row.rate_limit_per_min})
    return row
