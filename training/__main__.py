"""`python -m training ...`: the command line (see `training.commands`)."""

import sys

from training.commands import main

if __name__ == "__main__":
    sys.exit(main())
