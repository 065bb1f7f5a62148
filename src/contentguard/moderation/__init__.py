"""Signals to decisions: the policy (YAML, versioned), the image and text moderators that run
detectors and assemble the one result contract, and the micro-batcher that batches model runs
across requests. Layer: moderation; imports detectors, media, net, models and the foundations,
never store, service or a surface."""
