"""Outbound HTTP under the SSRF rules: `fetch` (URLs clients give us, checked after resolution,
pinned, every redirect re-checked) and `callback` (webhook POSTs). Layer: media/net; imports only
the foundations."""
