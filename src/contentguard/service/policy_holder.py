"""The active policy of one process, held in one place.

The image and text moderators both read it (they share one `ActivePolicy`), so they can never
run different versions, and every change goes through here: the database's active version at
start (`start`), an admin's change made through this process (`use`), and a version another
process stored (`sync`, run by the `policy_sync` task).

A version that relies on a detector this process has not loaded is refused, and the process
keeps the version it runs. Without the check, a version stored by another process from another
policy file would be switched to, and its categories whose detector is missing here would drop
out of every result without a word (`Policy.categories_for` skips detectors that gave no signal),
while the results still named that version.
"""

from __future__ import annotations

import logging
import threading

from contentguard.errors import InvalidPolicy
from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import ActivePolicy, Policy
from contentguard.moderation.text import TextModerator
from contentguard.store import policies
from contentguard.store.db import Database

log = logging.getLogger("contentguard.service.policy")


class PolicyHolder:
    """The policy in force for the moderators attached to it (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._active: ActivePolicy | None = None
        self._loaded: set[str] = set()  # the attached moderators' detectors
        self._refused: str | None = None  # the stored version `sync` last refused (said once)
        self._lock = threading.Lock()

    @property
    def current(self) -> Policy | None:
        """The policy in force; None until a moderator is attached."""
        return self._active.current if self._active is not None else None

    def attach(self, moderator: Moderator | TextModerator) -> None:
        """Make `moderator` read its policy from here. The first one attached brings the
        configured policy; the others follow it."""
        with self._lock:
            if self._active is None:
                self._active = ActivePolicy(moderator.policy)
            moderator.active_policy = self._active
            self._loaded |= {d.name for d in moderator.detectors}

    def start(self) -> None:
        """Run the database's active version: the configured policy, stored and made active
        when its version is new, else the one stored last (an admin's newer version)."""
        configured = self.current
        assert configured is not None, "attach a moderator first"
        active = policies.ensure_active_at_start(self.db, configured)
        if active.version == configured.version:
            return
        try:
            self.use(active)
        except InvalidPolicy as exc:
            log.warning("policy: keeping %s: %s", configured.version, exc.message)

    def missing(self, policy: Policy) -> list[str]:
        """The detectors `policy` relies on that this process has not loaded (those the
        running policy relies on too are not counted: switching loses nothing with them).
        None are missing while no moderator is loaded: nothing runs here then."""
        running = self.current
        if running is None:
            return []
        return sorted(set(policy.detectors) - self._loaded - set(running.detectors))

    def check(self, policy: Policy) -> None:
        """`InvalidPolicy` when `policy` cannot run in this process (see `missing`)."""
        missing = self.missing(policy)
        if missing:
            raise InvalidPolicy(
                f"policy version {policy.version!r} relies on {', '.join(missing)}, which this "
                "process has not loaded; its categories would be left out of every result")

    def use(self, policy: Policy) -> None:
        """Run `policy` in every attached moderator from the next item on; `InvalidPolicy`
        (nothing changes) when it cannot run here. With no moderator loaded, nothing runs."""
        with self._lock:
            self.check(policy)
            if self._active is not None:
                self._active.switch(policy)

    def sync(self) -> str | None:
        """Switch to the database's active version when it is not the one running (changed
        through another process on the same database). Blocking; the version switched to, or
        None. A version that cannot run here is refused with one warning, not every time."""
        running = self.current
        if running is None:
            return None
        with self.db.session() as session:
            row = policies.active(session)
            if row is None or row.version == running.version:
                self._refused = None
                return None
            if row.version == self._refused:
                return None
            version = row.version
            try:
                self.use(policies.to_policy(row))
            except InvalidPolicy as exc:
                self._refused = version
                log.warning("policy: not switching to version %s (active in the database): %s; "
                            "still running %s", version, exc.message, running.version)
                return None
        self._refused = None
        return version
