"""Image detectors."""
