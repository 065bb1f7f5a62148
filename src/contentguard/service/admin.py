"""The admin's operations: users, API keys, policy versions, the audit log and the dashboard's
figures, with the shapes they take and give.

One copy for every surface: the admin API (`/v1/admin`), the admin pages and the `contentguard
keys …` commands call these functions with the database (or the engine, for the policy), the
settings and who acts, and get plain data back. Every change is audited in the transaction that
makes it, under the actor's name. Secrets (keys, passwords) are never logged or audited: a new
key is shown once, in the answer that creates it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contentguard.clean_str import CleanStr
from contentguard.csvfile import CsvWriter
from contentguard.errors import BlockedUrl, Conflict, InvalidRequest, NotFound
from contentguard.moderation.policy import Policy
from contentguard.net.callback import check_callback_url
from contentguard.service.engine import Engine
from contentguard.service.filters import parse_when, text_filter
from contentguard.settings import Settings
from contentguard.store import accounts, audit, policies, stats
from contentguard.store.db import Database
from contentguard.store.tables import ApiKey, AuditEntry, PolicyVersion, User

Role = Literal["admin", "moderator"]
Scope = Literal["moderate", "appeal", "results"]


# --- who acts -------------------------------------------------------------------------------------
class Actor(Protocol):
    """Who makes a change: a signed-in admin (the server's Principal) or a command."""

    @property
    def name(self) -> str: ...  # for the audit log: "user:alice", "cli"

    @property
    def user_id(self) -> int | None: ...  # their account, if they have one

    @property
    def username(self) -> str | None: ...


@dataclass(frozen=True)
class Operator:
    """An actor with no account, such as the command line: only its name is recorded."""

    name: str
    user_id: None = None
    username: None = None


CLI = Operator("cli")


# --- shapes ---------------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The account rules are checked in store/accounts.py, whose messages say what is wrong (422);
# the schema states the same rules without checking them twice.
_PASSWORD_RULE = {"minLength": accounts.MIN_PASSWORD}


class UserIn(Strict):
    username: CleanStr = Field(json_schema_extra={"pattern": accounts.USERNAME_PATTERN},
                               description="2–64 letters, digits or . _ @ -")
    password: CleanStr = Field(max_length=1024, json_schema_extra=_PASSWORD_RULE,
                               description=f"At least {accounts.MIN_PASSWORD} characters.")
    role: Role = "moderator"


class UserChange(Strict):
    role: Role | None = None
    active: bool | None = Field(None, description="false disables the account and signs it out.")


class PasswordIn(Strict):
    password: CleanStr = Field(max_length=1024, json_schema_extra=_PASSWORD_RULE)


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class KeyIn(Strict):
    name: CleanStr = Field(max_length=100, json_schema_extra={"minLength": 1, "pattern": r"\S"},
                           description="Who uses the key (1–100 characters, not all spaces).")
    scopes: list[Scope] = Field(min_length=1)
    rate_limit_per_min: int = Field(60, ge=1, le=1_000_000)
    callback_url: CleanStr | None = Field(
        None, description="Where webhooks go; the same address rules as fetching a URL.")


class KeyChange(Strict):
    rate_limit_per_min: int | None = Field(None, ge=1, le=1_000_000)
    callback_url: CleanStr | None = Field(None, description='"" removes the callback URL.')


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[str]
    rate_limit_per_min: int
    callback_url: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, never stored.")
    webhook_secret: str = Field(description="Signs the key's webhooks; shown this once too.")


class ThresholdChange(Strict):
    """An omitted field keeps its value; null turns the action off for the category."""

    review: float | None = Field(None, ge=0, le=1)
    block: float | None = Field(None, ge=0, le=1)


class PolicyChange(Strict):
    thresholds: dict[str, ThresholdChange] = Field(  # keys: the JSON decoder checks them
        min_length=1, description="Category name → new thresholds.")
    on_model_error: Literal["allow", "review", "block"] | None = None


class ActivateIn(Strict):
    version: CleanStr = Field(max_length=100)


class PolicyVersionOut(BaseModel):
    version: str
    active: bool
    created_at: datetime
    created_by: str | None


class PolicyOut(BaseModel):
    active: PolicyVersionOut
    document: dict[str, Any] = Field(description="The active policy (docs/policy.md).")
    versions: list[PolicyVersionOut] = Field(description="Newest first.")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_before_id: int | None = Field(description="Pass as `before_id` for the next page.")


def problems(exc: ValidationError) -> str:
    """A validation error as one line a person can act on."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}" for err in exc.errors()[:5]
    )


# --- users ----------------------------------------------------------------------------------------
def _user_out(user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, role=user.role, active=user.active,
                   created_at=user.created_at, last_login_at=user.last_login_at)


def list_users(db: Database) -> list[UserOut]:
    with db.session() as session:
        return [_user_out(u) for u in session.scalars(select(User).order_by(User.username))]


def create_user(db: Database, actor: Actor, body: UserIn) -> UserOut:
    with db.session() as session:
        return _user_out(accounts.create_user(session, body.username, body.password,
                                              body.role, actor.name))


def change_user(db: Database, actor: Actor, user_id: int, body: UserChange) -> UserOut:
    if user_id == actor.user_id and (body.active is False or body.role == "moderator"):
        raise Conflict("you cannot disable or demote your own account; ask another admin")
    with db.session() as session:
        return _user_out(accounts.update_user(session, user_id, actor.name, role=body.role,
                                              active=body.active))


def reset_password(db: Database, actor: Actor, user_id: int, body: PasswordIn) -> UserOut:
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        accounts.set_password(session, user, body.password, actor.name)
        return _user_out(user)


# --- API keys -------------------------------------------------------------------------------------
def _key_out(key: ApiKey, creator: str | None) -> KeyOut:
    return KeyOut(id=key.id, name=key.name, prefix=key.prefix, scopes=list(key.scopes or ()),
                  rate_limit_per_min=key.rate_limit_per_min, callback_url=key.callback_url,
                  created_at=key.created_at, created_by=creator, last_used_at=key.last_used_at,
                  revoked_at=key.revoked_at)


def check_callback(url: str | None, settings: Settings) -> str | None:
    """The callback URL to store (None for none), or 422 naming what is wrong with it."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        check_callback_url(url, settings)
    except BlockedUrl as exc:
        raise InvalidRequest(f"callback_url: {exc.message}") from None
    return url


def list_keys(db: Database, include_revoked: bool = True) -> list[KeyOut]:
    stmt = (select(ApiKey, User.username).outerjoin(User, User.id == ApiKey.created_by)
            .order_by(ApiKey.id.desc()))
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    with db.session() as session:
        return [_key_out(key, name) for key, name in session.execute(stmt)]


def create_key(db: Database, settings: Settings, actor: Actor, body: KeyIn) -> NewKeyOut:
    callback = check_callback(body.callback_url, settings)
    with db.session() as session:
        new = accounts.create_api_key(session, body.name, list(body.scopes),
                                      body.rate_limit_per_min, actor.name,
                                      created_by=actor.user_id, callback_url=callback)
        out = _key_out(new.row, actor.username)
        return NewKeyOut(**out.model_dump(), key=new.key, webhook_secret=new.row.webhook_secret or "")


def change_key(db: Database, settings: Settings, actor: Actor, key_id: int,
               body: KeyChange) -> KeyOut:
    callback = None if body.callback_url is None else (check_callback(body.callback_url, settings) or "")
    with db.session() as session:
        key = accounts.update_api_key(session, key_id, actor.name, callback_url=callback,
                                      rate_limit_per_min=body.rate_limit_per_min)
        creator = session.get(User, key.created_by) if key.created_by else None
        return _key_out(key, creator.username if creator else None)


def revoke_key(db: Database, actor: Actor, key_id: int) -> KeyOut:
    with db.session() as session:
        key = accounts.revoke_api_key(session, key_id, actor.name)
        creator = session.get(User, key.created_by) if key.created_by else None
        return _key_out(key, creator.username if creator else None)


# --- policy ---------------------------------------------------------------------------------------
def _current(session: Any, engine: Engine) -> PolicyVersion:
    row = policies.active(session)
    if row is None:  # the models never loaded, so nothing was stored yet
        policies.ensure_active(session, Policy.configured(engine.settings))
        row = policies.active(session)
    assert row is not None
    return row


def policy_state(engine: Engine) -> PolicyOut:
    with engine.db.session() as session:
        current = _current(session, engine)
        rows = session.execute(
            select(PolicyVersion, User.username).outerjoin(User, User.id == PolicyVersion.created_by)
            .order_by(PolicyVersion.id.desc())).all()
        versions = [PolicyVersionOut(version=r.version, active=r.active, created_at=r.created_at,
                                     created_by=name or "system") for r, name in rows]
        active = next(v for v in versions if v.version == current.version)
        return PolicyOut(active=active, document=current.document, versions=versions)


def _next_version(session: Any, version: str) -> str:
    base = version.split("+", 1)[0]
    taken = session.scalars(select(PolicyVersion.version).where(
        PolicyVersion.version.startswith(base + "+", autoescape=True))).all()
    numbers = [int(v.rsplit("+", 1)[1]) for v in taken if v.rsplit("+", 1)[1].isdigit()]
    return f"{base}+{max(numbers, default=0) + 1}"


def changed_policy(document: dict[str, Any], change: PolicyChange, version: str) -> Policy:
    """The active document with `change` applied, validated; InvalidRequest says what is wrong."""
    doc = json.loads(json.dumps(document))
    unknown = sorted(set(change.thresholds) - set(doc.get("categories", {})))
    if unknown:
        raise InvalidRequest(f"unknown categories {', '.join(unknown)}; the policy has "
                             f"{', '.join(sorted(doc.get('categories', {})))}")
    for name, new in change.thresholds.items():
        rule = doc["categories"][name]
        for field in new.model_fields_set:
            rule[field] = getattr(new, field)
        if rule.get("review") is not None and rule.get("block") is not None \
                and rule["review"] > rule["block"]:
            raise InvalidRequest(f"{name}: the review threshold ({rule['review']:g}) must not be "
                                 f"above the block threshold ({rule['block']:g})")
    if change.on_model_error is not None:
        doc["on_model_error"] = change.on_model_error
    if doc == document:
        raise InvalidRequest("nothing changed: these are the active policy's values")
    doc["version"] = version
    try:
        return Policy.model_validate(doc)
    except ValidationError as exc:
        raise InvalidRequest(f"the changed policy is not valid: {problems(exc)}") from None


def change_policy(engine: Engine, actor: Actor, change: PolicyChange) -> PolicyOut:
    """Store the changed thresholds as a new active version, then run it."""
    try:
        with engine.db.session() as session:
            current = _current(session, engine)
            policy = changed_policy(current.document, change, _next_version(session, current.version))
            engine.policy_holder.check(policy)  # one this process cannot run is not stored
            policies.add_version(session, policy, actor.name, user_id=actor.user_id)
    except IntegrityError:  # another admin saved the same version number a moment before
        raise Conflict("the policy changed meanwhile; reload and try again") from None
    engine.policy_holder.use(policy)
    return policy_state(engine)


def activate_policy(engine: Engine, actor: Actor, body: ActivateIn) -> PolicyOut:
    with engine.db.session() as session:
        row = session.scalar(select(PolicyVersion).where(PolicyVersion.version == body.version))
        if row is None:
            raise NotFound(f"no policy version {body.version!r}")
        policy = policies.to_policy(row)  # refuse one that no longer validates before switching
        engine.policy_holder.check(policy)  # or that relies on a detector not loaded here
        if not row.active:
            policies.activate(session, row, actor.name)
    engine.policy_holder.use(policy)
    return policy_state(engine)


def category_thresholds(document: dict[str, Any]) -> dict[str, float]:
    """Per category, the lowest score that triggers an action (for the dashboard's counts)."""
    out = {}
    for name, rule in document.get("categories", {}).items():
        limits = [rule.get(k) for k in ("review", "block") if rule.get(k) is not None]
        if limits:
            out[name] = min(limits)
    return out


# --- audit log ------------------------------------------------------------------------------------
class AuditFilter(BaseModel):
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: str | None = None
    until: str | None = None

    def query(self):  # type: ignore[no-untyped-def]
        return audit.query(actor=text_filter(self.actor, "actor"),
                           action=text_filter(self.action, "action"),
                           target_type=text_filter(self.target_type, "target_type"),
                           target_id=text_filter(self.target_id, "target_id"),
                           since=parse_when(self.since, "since"),
                           until=parse_when(self.until, "until", end=True))


def _entry_out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(id=e.id, at=e.at, actor=e.actor, action=e.action,
                         target_type=e.target_type, target_id=e.target_id,
                         before=e.before, after=e.after)


def audit_page(db: Database, where: AuditFilter, limit: int = 100,
               before_id: int | None = None) -> AuditPage:
    stmt = where.query()
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    with db.session() as session:
        rows = list(session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(entries=[_entry_out(e) for e in rows],
                     next_before_id=rows[-1].id if more and rows else None)


AUDIT_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "before", "after")


def audit_csv(db: Database, where: AuditFilter) -> Iterator[str]:
    """The matching entries as CSV, read and sent in chunks (never all in memory). Call
    `where.query()` first to refuse bad filters before the first chunk is asked for."""
    stmt = where.query()
    buffer = io.StringIO(newline="")
    writer = CsvWriter(buffer, AUDIT_COLUMNS)
    writer.write_header()
    with db.session() as session:
        for entry in session.execute(stmt.execution_options(yield_per=500)).scalars():
            writer.write_row({c: getattr(entry, c) for c in AUDIT_COLUMNS})
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


# --- dashboard ------------------------------------------------------------------------------------
def dashboard(engine: Engine, range_name: str) -> stats.Stats:
    if range_name not in stats.RANGES:
        raise InvalidRequest(f"range must be one of {', '.join(stats.RANGES)}")
    with engine.db.session() as session:
        thresholds = category_thresholds(_current(session, engine).document)
        return stats.collect(session, range_name, thresholds)
