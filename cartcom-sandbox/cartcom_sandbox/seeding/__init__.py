"""Generators behind ``cartcom_sandbox.seed`` (pure functions yielding API-shaped documents)."""
