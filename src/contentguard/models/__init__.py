"""The model store: specs, cards, pull, verify; model sources and converters."""
