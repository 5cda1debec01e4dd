"""Scoring a user's photo with the best saved model (the ``predict`` command)."""
