"""The one command line: ``run_benchmark.py`` / ``fbp-benchmark`` and its sub-commands."""
