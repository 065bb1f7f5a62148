"""The HTTP connection layer of `contentguard serve`: uvicorn's httptools protocol with bounds.

uvicorn (with httptools) accepts request heads of any size and waits for slow clients forever:
one 8 MB header got a 200, and a client sending one byte every few seconds holds its
connection and its request task indefinitely. `GuardedHttpProtocol` adds, per connection:

- a head limit: the request line and headers together at most `max_header_bytes`, at most
  `max_headers` header lines; beyond, 431 (checked on the raw bytes too, so a huge header is
  refused before the parser has buffered it, not after);
- a head timeout: a request head must be complete within `header_timeout_s` of its first byte,
  and a new connection must start one within that long (408, or a silent close when nothing
  was sent);
- a body timeout: at most `body_idle_timeout_s` between body bytes, and on average at least
  `body_min_bytes_per_s` after that much grace (408, or a close once a response has started).
  The clock restarts while the server itself is not reading (flow control, `100 Continue`);
- uvicorn's keep-alive timeout (`keep_alive_timeout_s`) for idle connections between requests.

Refusals are the service's JSON error shape with `Connection: close`; the server then reads
no more requests on the connection, half-closes it, drops what the client still sends for a
moment (so the client reads the answer, not a reset) and closes it.

`uvicorn_options(settings)` is what `serve` passes to `uvicorn.run`, and what the tests pass
to `uvicorn.Config`: the protocol class, the keep-alive timeout, and forwarded headers trusted
only from `trusted_proxies` (none by default: `X-Forwarded-For` is then ignored).
"""

from __future__ import annotations

import ipaddress
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from contentguard.schemas import ErrorDetail, ErrorResult
from contentguard.settings import Settings

_LINGER_S = 2.0  # after a refusal, read and drop the client's bytes this long before closing
_REQUEST_LINE_FRAMING = 16  # a request line besides its target: about "GET " and " HTTP/1.1\r\n"
_HEADER_LINE_FRAMING = 4  # ": " and CRLF around a header's name and value


@dataclass(frozen=True)
class TransportLimits:
    """The connection limits of one server (the settings of the same names)."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout_s: float = 10.0
    body_idle_timeout_s: float = 10.0
    body_min_bytes_per_s: int = 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> TransportLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout_s=settings.header_timeout_s,
            body_idle_timeout_s=settings.body_idle_timeout_s,
            body_min_bytes_per_s=settings.body_min_bytes_per_s,
        )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is refused."""


class _ResumeAwareFlow(FlowControl):
    """uvicorn's flow control, telling the protocol when it resumes reading (the body clock
    must not count the time the server itself was not reading)."""

    def __init__(self, transport, on_resume) -> None:  # type: ignore[no-untyped-def]
        super().__init__(transport)
        self._on_resume = on_resume

    def resume_reading(self) -> None:
        was_paused = self.read_paused
        super().resume_reading()
        if was_paused:
            self._on_resume()


class GuardedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with head size/count limits and head, body and idle timeouts."""

    limits: ClassVar[TransportLimits] = TransportLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False  # between the first byte of a request line and its headers' end
        self._body_open = False  # between the headers' end and the message's end
        self._trailers_open = False  # after a chunk's size line, before its data: maybe trailers
        self._head_size = 0  # the request's head (and trailers) so far, from the parser's callbacks
        self._raw = 0  # bytes received inside the open head or trailers (bounds httptools' buffer)
        self._events = 0  # parser events that move between head, body and trailers
        self._refused = False
        self._head_timer: TimerHandle | None = None
        self._body_timer: TimerHandle | None = None
        self._body_start = self._body_last = 0.0
        self._body_bytes = 0
        self._continue_pending = False

    # --- connection ----------------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def, override]
        super().connection_made(transport)
        self.flow = _ResumeAwareFlow(transport, self._restart_body_clock)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: drop what the client still sends
        self._unset_keepalive_if_required()
        if not self._body_open and self._head_timer is None:
            self._arm_head_timer()
        events, inside = self._events, self._in_headers()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # no websockets here: the request was answered as a plain one
        except httptools.HttpParserError:
            if not self._refused:
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, "bad_request", "this is not a valid HTTP/1.1 request")
            return
        if self._in_headers() and not self._refused:
            # httptools buffers a header line until it ends and tells nothing before: count the
            # raw bytes of every chunk that fell wholly inside the head (or the trailers)
            self._raw = self._raw + len(data) if inside and events == self._events else self._head_size
            if self._raw > self.limits.max_header_bytes:
                self._refuse_head_size()

    def _in_headers(self) -> bool:
        return self._head_open or (self._body_open and self._trailers_open)

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "bad_request", "this is not a valid HTTP/1.1 request")

    # --- parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._events += 1
        self._head_open = True
        self._head_size = _REQUEST_LINE_FRAMING

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if self._head_size > self.limits.max_header_bytes:
            self._refuse_head_size()
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:  # headers, and chunked trailers
        self._head_size += len(name) + len(value) + _HEADER_LINE_FRAMING
        if len(self.headers) >= self.limits.max_headers:
            self._refuse(431, "too_large",
                         f"a request may have at most {self.limits.max_headers} headers")
            raise _Refused
        if self._head_size > self.limits.max_header_bytes:
            self._refuse_head_size()
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._events += 1
        self._head_open = False
        self._cancel_head_timer()
        super().on_headers_complete()
        self._body_open = True
        self._continue_pending = self.expect_100_continue
        self._restart_body_clock()
        self._body_timer = self.loop.call_later(self.limits.body_idle_timeout_s, self._body_check)

    def on_chunk_header(self) -> None:
        self._events += 1
        self._trailers_open = True  # until data follows: the last chunk's trailers come here

    def on_chunk_complete(self) -> None:
        self._events += 1
        self._trailers_open = False

    def on_body(self, body: bytes) -> None:
        self._events += 1
        self._trailers_open = False
        self._body_bytes += len(body)
        self._body_last = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._events += 1
        self._body_open = self._trailers_open = False
        self._cancel_body_timer()
        super().on_message_complete()
        if (self.cycle.response_complete and self.timeout_keep_alive_task is None
                and not self.transport.is_closing()):
            # answered before the body ended (e.g. 413): the body's bytes cancelled the idle timer
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._head_open and not self._body_open:
            self._cancel_head_timer()  # idle until the next request: the keep-alive timeout's job

    # --- timeouts ------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._refused:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # still answering the previous request: not the client's delay
            return
        if not self._head_open:
            self.transport.close()  # nothing sent: nothing to answer
            return
        self._refuse(408, "timeout", f"the request head did not arrive within "
                                     f"{self.limits.header_timeout_s:g} s")

    def _restart_body_clock(self) -> None:
        self._body_start = self._body_last = self.loop.time()
        self._body_bytes = 0

    def _body_check(self) -> None:
        self._body_timer = None
        if not self._body_open or self.transport.is_closing() or self._refused:
            return
        limits, now = self.limits, self.loop.time()
        waiting_for_us = self.flow.read_paused or self.cycle.waiting_for_100_continue
        if waiting_for_us or self._continue_pending:
            # the server is not reading, or its `100 Continue` went out since the last check:
            # the client's clock starts (again) now
            self._continue_pending = self.cycle.waiting_for_100_continue
            self._restart_body_clock()
            self._body_timer = self.loop.call_later(limits.body_idle_timeout_s, self._body_check)
            return
        deadline = min(self._body_last + limits.body_idle_timeout_s,
                       self._body_start + limits.body_idle_timeout_s
                       + self._body_bytes / limits.body_min_bytes_per_s)
        if now < deadline:
            self._body_timer = self.loop.call_later(deadline - now, self._body_check)
            return
        self._refuse(408, "timeout", f"the request body arrived too slowly (at most "
                                     f"{limits.body_idle_timeout_s:g} s between bytes, at least "
                                     f"{limits.body_min_bytes_per_s} bytes/s)")

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()

    # --- refusing ------------------------------------------------------------------------
    def _refuse_head_size(self) -> None:
        self._refuse(431, "too_large", f"the request line and headers are over the limit of "
                                       f"{self.limits.max_header_bytes} bytes")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer `status` in the JSON error shape (unless another answer is under way), stop
        reading requests, close."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._cancel_timers()
        self._unset_keepalive_if_required()
        client = "{}:{}".format(*self.client) if self.client else "unknown"
        self.logger.info("%s - refused with %d: %s", client, status, message)
        cycle = self.cycle
        if self._body_open:  # the request whose body is arriving: unless it was answered already
            can_answer = not cycle.response_started
        else:  # a new request: unless the one before is still being answered
            can_answer = cycle is None or cycle.response_complete
        if can_answer:
            body = ErrorResult(source=None, error=ErrorDetail(code=code, message=message))  # type: ignore[arg-type]
            payload = body.model_dump_json().encode()
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [b"content-type: application/json\r\n",
                     b"content-length: " + str(len(payload)).encode() + b"\r\n",
                     b"connection: close\r\n\r\n"]
            self.transport.write(b"".join(head) + payload)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's request ends here
            cycle.message_event.set()
        if can_answer and self.transport.can_write_eof():
            self.transport.write_eof()
            self.flow.resume_reading()
            self.loop.call_later(_LINGER_S, self.transport.close)
        else:
            self.transport.close()


def protocol_class(limits: TransportLimits) -> type[GuardedHttpProtocol]:
    """A GuardedHttpProtocol bound to `limits` (uvicorn builds protocols from a class)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that apply the transport settings."""
    proxies = [str(ipaddress.ip_network(p, strict=False)) for p in settings.trusted_proxies]
    return {
        "http": protocol_class(TransportLimits.from_settings(settings)),
        "ws": "none",  # no websocket routes: upgrades are plain requests
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
    }
