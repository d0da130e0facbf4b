"""``python -m core.bench``: the benchmark (core.cli.bench)."""

import sys

from core.cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
