"""The one way a chip model says "silicon ignores this command"."""


class Rejected(Exception):
    """A command the chip ignores; the message says why (recorded in the chip's events)."""
