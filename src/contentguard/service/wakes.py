"""Named wake-ups for the background tasks: a task sleeps on its event until its next poll or
until something (a request, another task, any thread) says there is work now."""

from __future__ import annotations

import asyncio
import threading


class Wakes:
    """`event(name)` registers a task's event on its running loop; `wake(name)` sets it from any
    thread, and does nothing before the task has started (it polls anyway)."""

    def __init__(self) -> None:
        self._events: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._lock = threading.Lock()

    def event(self, name: str) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._events[name] = (asyncio.get_running_loop(), event)
        return event

    def wake(self, name: str) -> None:
        with self._lock:
            registered = self._events.get(name)
        if registered is not None:
            loop, event = registered
            loop.call_soon_threadsafe(event.set)


async def nap(event: asyncio.Event, seconds: float) -> None:
    """Sleep up to `seconds`, or until `event` is set."""
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    except TimeoutError:
        pass
    event.clear()
