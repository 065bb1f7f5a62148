"""Models that score content, and their registry (the plugin API: `base.py`, entry-point group
`contentguard.detectors`). Layer: detectors; imports media, models and the foundations."""
