"""Measurement and selection commands (``python -m tools.<name>``); nothing of the product imports them."""
