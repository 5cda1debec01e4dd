"""Benchmark spine: protocols, metrics, feature cache, runner, result store and CLI."""
