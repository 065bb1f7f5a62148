"""Roles: what one process does, so the same code is one process on a laptop and many in
production (as hasher-matcher-actioner's role flags).

Surface roles pick the routers the HTTP app mounts; task roles pick the background tasks
(service/tasks.py) a process runs. `all` (the default) is every one of them. `policy_sync`
is not a role: every process that moderates (`api` or `jobs`) follows the active policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from contentguard.settings import ROLE_NAMES

ROUTER_ROLES = ("api", "ui", "review", "admin")
TASK_ROLES = tuple(role for role in ROLE_NAMES if role not in ROUTER_ROLES)  # jobs, webhooks, retention
ALL = "all"


def parse(roles: Iterable[str]) -> frozenset[str]:
    """The roles named, with `all` (or nothing) expanded to every role; the settings have
    already refused unknown names."""
    named = {r.strip().lower() for r in roles if r.strip()}
    return frozenset(ROLE_NAMES) if ALL in named or not named else frozenset(named)


def tasks_for(roles: frozenset[str]) -> list[str]:
    """The named background tasks a process with `roles` runs, in start order."""
    names = [t for t in TASK_ROLES if t in roles]
    if roles & {"api", "jobs"}:
        names.insert(0, "policy_sync")
    return names
