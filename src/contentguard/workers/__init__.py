"""Processes that are not the HTTP service."""
