"""Documentation that must not drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from contentguard.schemas import ErrorCode, ModerationResult
from contentguard.settings import Settings, settings_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_settings_doc_is_generated_from_the_settings() -> None:
    assert (ROOT / "docs" / "settings.md").read_text() == settings_markdown(), (
        "docs/settings.md is stale: run `make docs`"
    )
    for name in Settings.model_fields:
        assert f"CONTENTGUARD_{name.upper()}" in settings_markdown()


def test_result_contract_doc_names_every_field_and_error_code() -> None:
    text = (ROOT / "docs" / "result-contract.md").read_text()
    for field in ModerationResult.model_fields:
        assert f"`{field}`" in text, field
    for code in ErrorCode.__args__:
        assert f"`{code}`" in text, code


def test_changelog_entries_name_an_issue() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    entries = [line for line in text.splitlines() if line.startswith("- ")]
    assert entries
    assert all(re.search(r"#\d+", line) for line in entries), "every entry cites its issue"
