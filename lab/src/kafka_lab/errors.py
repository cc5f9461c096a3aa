"""The one exception type of the lab's command line: its text is what the user reads."""


class LabError(Exception):
    """Something the user must fix; the message says what and how."""
