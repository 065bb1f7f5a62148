"""Policy versions: every policy the service ran with is stored; exactly one is active.

The configured policy (file or built-in default) is imported on start when its version is new,
so editing the file and restarting makes a new version; admins' edits in the UI make one too.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contentguard.errors import Conflict, InvalidPolicy
from contentguard.moderation.policy import Policy
from contentguard.store import audit
from contentguard.store.db import Database
from contentguard.store.tables import PolicyVersion


def active(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(PolicyVersion.active.is_(True)).limit(1))


def to_policy(row: PolicyVersion) -> Policy:
    try:
        return Policy.model_validate(row.document)
    except Exception as exc:  # stored by an older release with other fields
        raise InvalidPolicy(f"stored policy {row.version} no longer validates: {exc}") from exc


def ensure_active(session: Session, configured: Policy, actor: str = "system") -> Policy:
    """The policy to run: the configured one if its version was never stored (it becomes
    active), else the active stored version."""
    known = session.scalar(select(PolicyVersion).where(PolicyVersion.version == configured.version))
    if known is None:
        return to_policy(add_version(session, configured, actor, user_id=None))
    current = active(session)
    return to_policy(current) if current is not None else to_policy(activate(session, known, actor))


def ensure_active_at_start(db: Database, configured: Policy) -> Policy:
    """`ensure_active` in its own transaction, for a process starting up. Two processes starting
    on a fresh database both find the configured version missing and both insert it; the
    loser's insert breaks the unique version, and its second try reads the winner's row."""
    try:
        with db.session() as session:
            return ensure_active(session, configured)
    except IntegrityError:
        with db.session() as session:
            return ensure_active(session, configured)


def add_version(session: Session, policy: Policy, actor: str, user_id: int | None) -> PolicyVersion:
    """Store `policy` as a new version and make it the active one."""
    if session.scalar(select(PolicyVersion.id).where(PolicyVersion.version == policy.version)):
        raise Conflict(f"policy version {policy.version!r} exists already")
    before = active(session)
    session.execute(update(PolicyVersion).values(active=False))
    row = PolicyVersion(version=policy.version, document=policy.model_dump(mode="json"),
                        created_by=user_id, active=True)
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.create", "policy", policy.version,
                 before={"version": before.version} if before else None,
                 after={"version": policy.version, "document": row.document})
    return row


def activate(session: Session, row: PolicyVersion, actor: str) -> PolicyVersion:
    before = active(session)
    session.execute(update(PolicyVersion).values(active=False))
    row.active = True
    audit.record(session, actor, "policy.activate", "policy", row.version,
                 before={"version": before.version} if before else None,
                 after={"version": row.version})
    return row
