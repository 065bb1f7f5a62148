"""Training of the text heads."""
