"""The `contentguard` command line, one module per command group: check, scan, models, bench
(bench, bench-load, bench-text), train (train-text), serve (serve, worker), team (db, users),
keys, labels (export-labels); common.py holds the `app` they register on, the consoles and the
exit-code rules. Layer: surfaces; may import every layer below, the server included.

Exit codes: 0 every input was moderated, 1 some input failed (or a model is unavailable),
2 usage errors (bad options, unreadable policy) and a missing optional dependency (the message
names the pip extra to install).
"""

from __future__ import annotations

from contentguard import __version__
from contentguard.cli.common import app, out

# Importing a module registers its commands, and `--help` lists commands, then groups, in the
# order they were registered: keep this order (serve imports team, so models comes first).
# isort: off
from contentguard.cli import models  # noqa: F401, E402
from contentguard.cli import labels, check, scan, bench, train, serve  # noqa: F401, E402
from contentguard.cli import team, keys  # noqa: F401, E402
# isort: on


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"contentguard {__version__}")


def main() -> None:
    app()


__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
