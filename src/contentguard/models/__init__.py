"""The model store: specs, cards, pull, verify; model sources (`sources/`, one per registry or
`local`) and converters (`convert/`). Layer: models; imports only the foundations."""
