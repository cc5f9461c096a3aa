"""Which source topics are mirrored: MirrorMaker's include/whitelist (a Java regex, ',' meaning '|') and exclude."""
from __future__ import annotations

import re
from dataclasses import dataclass

from kafka_mirror.errors import ConfigError


def java_regex(spec: str) -> str:
    """MirrorMaker 1's IncludeList: trimmed, ',' -> '|', spaces and surrounding quotes dropped; Java -> Python."""
    text = spec.strip().replace(",", "|").replace(" ", "")
    text = re.sub(r"^[\"']+|[\"']+$", "", text)
    text = re.sub(r"\\Q(.*?)(\\E|$)", lambda m: re.escape(m.group(1)), text)  # Java literal quoting
    return text.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")


@dataclass(frozen=True)
class TopicSelection:
    include: str
    exclude: str | None = None
    internal: bool = False  # Kafka's internal topics (__consumer_offsets, ...) are never mirrored by default
    own: tuple[str, ...] = ()  # the mirror's own state topics (offset map, positions): never mirrored

    def __post_init__(self) -> None:
        for name, spec in (("include", self.include), ("exclude", self.exclude)):
            if spec is None:
                continue
            try:
                re.compile(java_regex(spec))
            except re.error as exc:
                raise ConfigError(f"--{name} '{spec}' is not a valid regular expression: {exc}") from None

    def matches(self, topic: str) -> bool:
        if (not self.internal and topic.startswith("__")) or topic in self.own:
            return False
        if not re.fullmatch(java_regex(self.include), topic):
            return False
        return self.exclude is None or not re.fullmatch(java_regex(self.exclude), topic)
