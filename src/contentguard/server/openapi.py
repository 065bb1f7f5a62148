"""Print the OpenAPI schema (`make docs` writes it to docs/openapi.json; a test diffs it)."""

from __future__ import annotations

import json

from contentguard.server.app import create_app
from contentguard.settings import Settings


def schema_json() -> str:
    return json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(schema_json(), end="")
