"""Side-by-side benchmark of kafka-mirror, MirrorMaker 2 and MirrorMaker 1 on the lab's real clusters."""
