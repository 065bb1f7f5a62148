"""Text moderation: models and helpers that score strings."""
