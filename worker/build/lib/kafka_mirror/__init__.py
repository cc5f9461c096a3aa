"""kafka_mirror: a MirrorMaker-compatible Kafka mirror that commits source offsets only up to what the target
acknowledged (no loss; duplicates bounded by what was in flight since the last commit)."""

__version__ = "0.1.0"
