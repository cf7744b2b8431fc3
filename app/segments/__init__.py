"""Segments: rule trees (rules.py), their compilation to one SQL query (compiler.py), and
materialised membership kept current by jobs (membership.py)."""
