"""Benchmarks: `python -m tests.benchmarks [NAME]`, printing `metric value` lines (see __main__.py).

Nothing here is collected by pytest: no module is named test_*.py, and importing the package
does nothing.
"""
