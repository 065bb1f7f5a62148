"""`python -m contentguard.cli`: the same commands as the `contentguard` entry point."""

from contentguard.cli import main

main()
