"""What the image and text moderators share: the active policy they read for every item and
the preparation pool they close."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Self

from contentguard.moderation.policy import ActivePolicy, Policy


class BaseModerator:
    """A subclass sets `active_policy` (its own, until the service's `PolicyHolder` shares one)
    and `_pool` in its constructor."""

    active_policy: ActivePolicy
    _pool: ThreadPoolExecutor

    @property
    def policy(self) -> Policy:
        """The policy in force for the next item (`active_policy.current`; it changes only
        through the service's `PolicyHolder`)."""
        return self.active_policy.current

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
