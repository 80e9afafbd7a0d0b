"""Test and benchmark support shared by every distribution's tests: never shipped in a wheel.

On the pytest path through ``pythonpath`` in the root pyproject; benchmarks add it themselves.
"""
