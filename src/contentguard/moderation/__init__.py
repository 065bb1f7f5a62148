"""Signals to decisions: the policy (YAML, versioned), the image and text moderators that run
detectors, the one assembler of their results and errors (`assemble`), and the micro-batcher
that batches model runs across requests. Layer: moderation; imports detectors, media, net,
models and the foundations, never store, service or a surface."""
