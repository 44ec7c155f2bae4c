"""`python -m streams.cli ...`: the same as the `wardwatch` console script (tests and child processes use it)."""

import sys

from streams.cli import main

sys.exit(main())
