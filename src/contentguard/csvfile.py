"""The one CSV writer of every export (audit log, labels manifest, `scan --csv`): cells a
spreadsheet shows as text and never evaluates as a formula (CSV or formula injection).

Following OWASP's advice on CSV injection, every cell is quoted (embedded quotes doubled) and a
text cell gets a leading single quote `'` when a spreadsheet could read it as a formula, i.e.
when its first character, or its first character after leading whitespace, is one of

    = + - @       the formula starts
    TAB CR LF NUL control characters (OWASP names TAB and CR, the ASVS TAB and NUL; LF is
                  added for the same reason: a reader that drops or splits on them would see
                  what follows as the cell's start)
    ＝ ＋ － ＠    their full-width forms, which some spreadsheets fold to the ASCII ones

Leading whitespace counts too: a reader that trims it before looking (LibreOffice's CSV import
has a "trim spaces" option) would otherwise find a formula start.

Numbers (int, float) are written as they are: they are ours, not user text, and `-1` is a value,
not a formula. A spreadsheet shows a prefixed cell as text (some hide the `'`, some show it); a
program reading the file back sees it (`'-1-1`): the price of opening safely everywhere.

`defusedcsv` does the same job but leaves TAB, CR and leading whitespace alone and rewrites `|`
inside the cell; the rule is short enough to keep here, on top of the standard `csv` module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TextIO

FORMULA_START = frozenset("=+-@\t\r\n\0＝＋－＠")


def needs_quote_prefix(text: str) -> bool:
    """Whether a spreadsheet could evaluate `text` as a formula (see the module's rule)."""
    for char in text:
        if char in FORMULA_START:
            return True
        if not char.isspace():
            return False
    return False


def escape(text: str) -> str:
    """`text` as a cell that opens as text: a leading `'` when it could start a formula."""
    return "'" + text if needs_quote_prefix(text) else text


def cell(value: object) -> str:
    """A value as a cell: nothing for None, ISO 8601 for times, JSON for structures, the number
    for numbers, and text escaped by `escape`."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        text = value
    elif isinstance(value, (datetime, date)):
        text = value.isoformat()
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return escape(text)


class CsvWriter:
    """Rows of named columns written to `handle` (opened with `newline=""`), every cell quoted
    and escaped; a row's missing columns are empty, an unknown column is a bug (ValueError)."""

    def __init__(self, handle: TextIO, columns: Sequence[str], *, lineterminator: str = "\r\n") -> None:
        self.columns = tuple(columns)
        self._known = frozenset(self.columns)
        self._csv = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=lineterminator)

    def write_header(self) -> None:
        self._csv.writerow([escape(c) for c in self.columns])

    def write_row(self, row: Mapping[str, object]) -> None:
        unknown = row.keys() - self._known
        if unknown:
            raise ValueError(f"columns not in this CSV: {', '.join(sorted(unknown))}")
        self._csv.writerow([cell(row.get(c)) for c in self.columns])

    def write_rows(self, rows: Iterable[Mapping[str, object]]) -> None:
        for row in rows:
            self.write_row(row)
