"""sys.exit(ARG): a number, 'none' for None, anything else as a string."""

import sys

arg = sys.argv[1]
sys.exit(None if arg == "none" else int(arg) if arg.isdigit() else arg)
