"""Offline training."""
