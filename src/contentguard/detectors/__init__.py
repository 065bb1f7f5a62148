"""Models that score content, and their registry (the plugin API: base.py)."""
