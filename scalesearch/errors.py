"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""


class ScalesearchError(ValueError):
    """Bad input: unknown baseline, invalid coefficients, unreadable data, conflicting options."""
