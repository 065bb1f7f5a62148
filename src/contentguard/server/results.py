"""Recent results in memory for `GET /v1/results/{id}` (the persistence issue replaces it)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from contentguard.schemas import ModerationResult, Outcome


class ResultCache:
    """A bounded, time-limited map from content id to its latest result."""

    def __init__(self, size: int, ttl_s: float) -> None:
        self.size = size
        self.ttl = ttl_s
        self._items: OrderedDict[str, tuple[float, ModerationResult]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, outcome: Outcome) -> None:
        if not isinstance(outcome, ModerationResult) or self.size == 0:
            return  # errors have no content id to look them up by
        with self._lock:
            self._items[outcome.id] = (time.monotonic() + self.ttl, outcome)
            self._items.move_to_end(outcome.id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, result_id: str) -> ModerationResult | None:
        with self._lock:
            entry = self._items.get(result_id)
            if entry is None:
                return None
            expires, result = entry
            if time.monotonic() > expires:
                del self._items[result_id]
                return None
            return result

    def __len__(self) -> int:
        return len(self._items)
