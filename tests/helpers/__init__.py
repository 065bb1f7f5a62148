"""What the tests share besides fixtures: accounts, apps, samples, a webhook receiver, the
detector conformance suite, page-error watching, and the dummy detectors of the fast tier.

Import them as `from helpers.accounts import make_key`: `tests/` is on `sys.path` through
`pythonpath = ["tests"]` in pyproject.toml's pytest section, so this works from a fresh clone
under any pytest import mode. Fixtures stay in the `conftest.py` files; modules here hold plain
functions and classes (no test functions, so pytest collects nothing from them).
"""
