"""Offline training (the train extra: torch, sentence-transformers, scikit-learn); serving never
imports it. Layer: training; imports service and below."""
