"""`flask` commands for operators."""
import click
from flask import Flask

from app.extensions import db

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "footfall-demo"


def ensure_demo_account() -> bool:
    """Create the demo account unless it exists; returns whether it was created."""
    from app import accounts

    if accounts.find_user(DEMO_EMAIL):
        return False
    accounts.register(DEMO_EMAIL, DEMO_PASSWORD, "Demo Shop")
    db.session.commit()
    return True


def register_commands(app: Flask) -> None:
    @app.cli.command("create-demo")
    def create_demo():
        """Create the demo account (idempotent)."""
        created = ensure_demo_account()
        click.echo(f"{'Created' if created else 'Kept'} demo account {DEMO_EMAIL} / {DEMO_PASSWORD}")
