"""Automations: the path's schema and editing (schema.py) and the engine that runs contacts
through it (engine.py), started by triggers (triggers.py)."""
