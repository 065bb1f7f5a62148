"""What makes a browser test fail besides its own assertions: uncaught script errors and
anything the page's Content-Security-Policy refused."""

from __future__ import annotations

from playwright.sync_api import Page


def watch_errors(page: Page, errors: list[str]) -> None:
    """Append the page's uncaught script errors, and what its CSP refused (Chromium reports that
    on the console: `Refused to …` or `Loading … violates the following Content Security Policy
    directive …`, depending on its version), to `errors`."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
