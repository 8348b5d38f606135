"""The command line: one module per subcommand group; the only layer that prints or picks exit
codes."""

from swiftkit.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
