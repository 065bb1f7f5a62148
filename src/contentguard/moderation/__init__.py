"""Signals to decisions."""
