"""Issue 11's demonstration: a consumer group failed over mid-stream, kafka-mirror's exact translation against
MirrorMaker 2's checkpoints, in the same run (docs/FAILOVER.md)."""
