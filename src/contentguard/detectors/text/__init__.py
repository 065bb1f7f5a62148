"""Text detectors and the model runtimes they use."""
