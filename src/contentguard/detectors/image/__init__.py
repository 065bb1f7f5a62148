"""Image detectors: the NSFW classifier and the NudeNet detector, with their resize and NMS."""
