"""Make the helpers in this folder (parity_inputs) importable from the parity tests, whatever
pytest import mode is used."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
