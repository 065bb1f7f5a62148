"""Text detectors and the model runtimes they use: the profanity model, the MiniLM encoder and
the trained heads (heads/*.npz)."""
