class LinePulseError(Exception):
    """Root of every error LinePulse raises on purpose."""


class InvalidEventError(LinePulseError):
    """A message is not a valid event of the contract its topic carries."""

    def __init__(self, reason: str, error_type: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type
