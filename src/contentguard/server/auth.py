"""Who is calling: the dependency every route declares, so accounts plug in without route changes.

Until accounts exist (the persistence issue) every caller is the anonymous local client with
every role; `authorize(...)` is where API keys, sessions and role checks will go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

ROLES = ("client", "moderator", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)


ANONYMOUS = Principal("anonymous", frozenset(ROLES))


def authorize(*roles: str):  # type: ignore[no-untyped-def]
    """A dependency that admits callers holding one of `roles` and returns who they are."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request) -> Principal:
        principal = ANONYMOUS
        request.state.principal = principal
        return principal

    dependency.__name__ = f"authorize_{'_'.join(roles)}"
    return dependency
