"""The mirror's exceptions: each message says what is wrong and what to do."""


class MirrorError(Exception):
    """Base of the mirror's errors; the process exits with `exit_code`."""

    exit_code = 1


class ConfigError(MirrorError):
    """Bad configuration: the process stops before connecting (exit code 2)."""

    exit_code = 2


class SendFailure(MirrorError):
    """A record could not be delivered and abort.on.send.failure is true (exit code 3)."""

    exit_code = 3
