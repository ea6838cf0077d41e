"""The `harness` command line: option groups (options), their resolution into frozen configs
(config), one handler per subcommand (commands, with the train, tune-prompt and data commands in
their own modules) and the parser and exit codes (entry). Nothing outside this package sees argparse.
"""

from harness.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
