"""The package version: one source for ``--version``, run folders' markers and pyproject."""

__version__ = "0.3.0"
