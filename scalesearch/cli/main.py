"""``scalesearch`` command line: one subcommand per module, user errors → one line, exit 2
(every error and warning printed with its control characters escaped, whatever it quotes)."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings

from scalesearch.util.fmt import one_line
from scalesearch.version import __version__

# Subcommand modules; each defines ``register(subparsers)`` and sets ``func`` on its parser.
COMMANDS = ("scalesearch.cli.scale", "scalesearch.cli.search", "scalesearch.cli.fidelity",
            "scalesearch.cli.compare", "scalesearch.cli.plot", "scalesearch.cli.study",
            "scalesearch.cli.report")


class Parser(argparse.ArgumentParser):
    """argparse with a single-line error message (no usage dump) and exit code 2."""

    def error(self, message: str):
        """Print ``message`` on one line and exit with status 2."""
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> Parser:
    """The ``scalesearch`` parser with every subcommand of :data:`COMMANDS` registered."""
    parser = Parser(prog="scalesearch", description="Compound model scaling (EfficientNet, Tan "
                    "& Le 2019, Eq. 3: d=α^φ, w=β^φ, r=γ^φ, α·β²·γ²≈2) for any convolutional "
                    "network. Run `scalesearch COMMAND --help` for each command.")
    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"scalesearch: warning: {one_line(str(message))}\n")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on a user error, 130 on Ctrl-C)."""
    from scalesearch.errors import ScalesearchError
    from scalesearch.training.cluster import term_as_interrupt
    from scalesearch.training.runlock import held

    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    before, previous = held(), term_as_interrupt()  # SIGTERM: as Ctrl-C, the whole command
    try:
        return args.func(args) or 0
    except ScalesearchError as err:
        sys.stderr.write(f"scalesearch {args.command}: error: {one_line(str(err))}\n")
        return getattr(err, "exit_code", 2)
    except KeyboardInterrupt:
        started = sorted(held() - before)
        if not started:
            sys.stderr.write("scalesearch: interrupted\n")
            return 130
        sys.stderr.write(f"scalesearch {args.command}: interrupted: {started[0]} keeps what "
                         "finished; continue with --resume\n")  # as a search with trials left
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
