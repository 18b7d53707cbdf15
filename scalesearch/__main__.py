"""``python -m scalesearch``: the ``scalesearch`` command, where its script is not on PATH."""

import sys

from scalesearch.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
