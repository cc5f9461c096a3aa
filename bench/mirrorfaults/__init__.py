"""The fault suite: each scenario made with the lab's real controls while a sequence-checked stream flows, run for
kafka-mirror, MirrorMaker 2 and MirrorMaker 1 side by side (make faults; docs/RELIABILITY.md)."""
