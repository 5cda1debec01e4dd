#!/usr/bin/env python
"""Entry point: ``python run_benchmark.py --protocol all`` (see ``--help``)."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
