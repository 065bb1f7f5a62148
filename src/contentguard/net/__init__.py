"""Outbound HTTP under the SSRF rules."""
