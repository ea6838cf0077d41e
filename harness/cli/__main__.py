"""`python -m harness.cli`: the `harness` command (harness.cli.entry)."""

import sys

from harness.cli.entry import main

sys.exit(main())
