"""Images the tests make themselves (no real data needed) and a tiny local HTTP server."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def image_bytes(seed: int, size: tuple[int, int] = (160, 120), fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    pixels = (base + rng.integers(0, 40, base.shape)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


RGB = tuple[int, int, int]


def square_png(colour: RGB, box: tuple[int, int, int, int] = (40, 30, 60, 45),
               size: tuple[int, int] = (160, 120), background: RGB = (128, 128, 128)) -> bytes:
    """A PNG of `background` with a `colour` rectangle at `box` (x, y, w, h). To the dummy
    detectors (helpers/dummy.py) a strongly red or blue rectangle is a region found right there,
    with its colour's dominance as its score; a rectangle covering the image is the whole image's
    colour."""
    image = Image.new("RGB", size, background)
    x, y, w, h = box
    image.paste(colour, (x, y, x + w, y + h))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes(frames: int) -> bytes:
    images = [Image.new("RGB", (48, 32), (i * 12 % 256, 80, 200 - i * 5)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


@dataclass
class Reply:
    """What the local server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] | None = None


@contextmanager
def http_server(routes: dict[str, Reply | Callable[[], Reply]]) -> Iterator[str]:
    """Serve `routes` on 127.0.0.1 (a free port) in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            route = routes.get(self.path.split("?")[0])
            reply = route() if callable(route) else route
            if reply is None:
                reply = Reply(b"not here", 404, "text/plain")
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in (reply.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# A policy sending every image to review (the classifier's classes sum to 1), faces too (so a
# photo with a face comes with boxes): items reach the review queue through the real route.
# Texts are judged as by the default policy (the text moderator runs the same policy).
REVIEW_ALL_POLICY = """\
version: test-review-all@2
categories:
  anything:
    detector: nsfw-classifier
    sum: [neutral, drawing, porn, hentai, sexy]
    review: 0.0
  faces:
    detector: nudity-detector
    max: [FACE_FEMALE, FACE_MALE]
    review: 0.0
  profanity: {detector: profanity, sum: [profanity], review: 0.85}
  hate: {detector: text-classifier, sum: [hate], review: 0.3, block: 0.8}
  offensive: {detector: text-classifier, sum: [offensive], review: 0.7}
  spam: {detector: text-classifier, sum: [spam], review: 0.5, block: 0.9}
"""
