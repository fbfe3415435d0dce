"""``python3 -m outrun.bench``: the benchmarks without the host as parent."""

import sys

from outrun.bench import main

sys.exit(main(sys.argv[1:]))
