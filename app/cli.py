"""`flask` commands for operators."""
import click
from flask import Flask

from app.demo import DEMO_EMAIL, DEMO_PASSWORD, demo_link, ensure_demo_account, reset_demo_account


def register_commands(app: Flask) -> None:
    @app.cli.command("create-demo")
    @click.option("--reset", is_flag=True,
                  help="delete the demo account and everything in it first, then create it again")
    def create_demo(reset):
        """Create the demo account with a month of sample data (idempotent; needs Redis)."""
        from flask import current_app
        from redis.exceptions import RedisError

        if current_app.config["FOOTFALL_ENV"] == "production":
            # Its login and password are published; --reset deletes whatever account has that email.
            raise click.ClickException("The demo account is for development instances, not production.")

        from app.queues import get_redis
        from app.tracking.setup import get_site

        try:
            get_redis().ping()
        except RedisError as error:
            raise click.ClickException(
                f"Redis does not answer ({error}). The demo sends its campaign through the job queues: "
                "start Redis (REDIS_URL), or use `make run`, which starts one and creates the demo."
            ) from None
        user = reset_demo_account() if reset else ensure_demo_account()
        website = get_site(user.account_id).website_url
        click.echo(f"Demo account{' made again' if reset else ''}: {DEMO_EMAIL} / {DEMO_PASSWORD}")
        click.echo(f"It tracks {website}; a link there that identifies you as the demo contact Ada Lovelace:")
        click.echo(f"  {demo_link(user, website)}")

    @app.cli.command("delete-anonymous-events")
    def delete_anonymous_events():
        """Delete anonymous page views older than each account's retention (the hourly job, now)."""
        from app.tracking.retention import delete_expired_anonymous

        deleted = delete_expired_anonymous()
        click.echo(f"Deleted {sum(deleted.values())} anonymous page views in {len(deleted)} accounts.")

    @app.cli.command("partition-page-views")
    def partition_page_views():
        """Partition page_views by month (PostgreSQL; locks the table while it copies the rows)."""
        from app.tracking.partitions import PartitionError, convert

        try:
            made = convert()
        except PartitionError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"page_views is now partitioned by month ({made} monthly partitions); "
                   "the worker creates the coming months' partitions as they approach.")

    @app.cli.command("tag-link")
    @click.argument("user_email")
    @click.argument("contact_email")
    @click.option("--url", default=None, help="the page to link to (default: the account's website)")
    @click.option("--channel", type=click.Choice(["email", "sms", "test"]), default="test")
    def tag_link(user_email, contact_email, url, channel):
        """Print a link tagged with a cid for CONTACT_EMAIL, in the account of USER_EMAIL."""
        from app import accounts
        from app.contacts import people
        from app.messaging.links import tag_url
        from app.tracking.cid import make_cid
        from app.tracking.setup import get_site

        user = accounts.find_user(user_email)
        if user is None:
            raise click.ClickException(f"no user {user_email}")
        contact = people.find_by_email(user.account_id, contact_email)
        if contact is None:
            raise click.ClickException(f"no contact {contact_email} in that account")
        site = get_site(user.account_id)
        target = url or (site.website_url + "/" if site else None)
        if not target:
            raise click.ClickException("the account has no tracked website; pass --url")
        click.echo(tag_url(target, make_cid(user.account_id, contact.id, channel=channel)))

    @app.cli.command("new-cid-key")
    def new_cid_key():
        """Print a new cid key, and CID_KEYS with it first and the keys in use now after it."""
        from flask import current_app

        from app.tracking.cid import encode_key, new_key, parse_keys

        key = new_key()
        in_use = parse_keys(current_app.config["CID_KEYS"], current_app.config["SECRET_KEY"])
        click.echo(f"New key: {key}")
        click.echo("To rotate, set this on every web and worker process and restart them; links made with "
                   "the keys after the first keep working until you remove those keys:")
        click.echo(f"CID_KEYS={','.join([key] + [encode_key(old) for old in in_use])}")

    @app.cli.command("dead-letters")
    @click.argument("action", type=click.Choice(["show", "replay", "drop"]), default="show")
    @click.option("--stream", "label", type=click.Choice(["page_views", "clicks"]), default=None,
                  help="one stream (default: both)")
    @click.option("--limit", default=20, show_default=True, help="entries shown per stream")
    def dead_letters(action, label, limit):
        """Entries the event consumer set aside (each failed on its own): show them, replay them
        into their stream (once the cause is fixed), or drop them."""
        from datetime import datetime, timezone

        from app.messaging.clicks import CLICKS
        from app.queues import get_redis
        from app.tracking.events import PAGE_VIEWS

        redis = get_redis()
        for name, stream in {"page_views": PAGE_VIEWS, "clicks": CLICKS}.items():
            if label not in (None, name):
                continue
            if action == "replay":
                click.echo(f"{name}: {stream.replay_set_aside(redis)} entries put back in the stream")
            elif action == "drop":
                click.echo(f"{name}: {stream.drop_set_aside(redis)} entries dropped")
            else:
                entries = stream.set_aside(redis, limit)
                click.echo(f"{name}: {redis.xlen(stream.dead_letters)} set aside")
                for entry in entries:
                    at = (datetime.fromtimestamp(entry["at"] / 1000, timezone.utc)
                          .isoformat(timespec="seconds"))
                    click.echo(f"  {entry['id']} at {at}: {entry['error']}\n    {entry['record'][:300]}")

    @app.cli.command("create-account")
    @click.argument("email")
    @click.option("--name", default="", help="the business name (default: the email's domain)")
    def create_account(email, name):
        """Create an account and its user EMAIL, asking for the password (sign-up may be closed)."""
        from app import accounts
        from app.extensions import db

        try:
            email = accounts.normalise_email(email)
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from None
        if accounts.find_user(email):
            raise click.ClickException(f"{email} already has an account; `flask reset-password {email}` "
                                       "sets a new password for it.")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            user = accounts.register(email, password, name)
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from None
        db.session.commit()
        click.echo(f"Created the account “{user.account.name}” with the user {user.email}, "
                   "who can sign in with this email and password.")

    @app.cli.command("reset-password")
    @click.argument("email")
    def reset_password(email):
        """Set a new password for the user EMAIL, asking for it; every session of theirs ends."""
        from app import accounts
        from app.extensions import db

        user = accounts.find_user(email.strip())
        if user is None:
            raise click.ClickException(f"No user has the email {email}.")
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        try:
            ended = accounts.set_password(user, password)
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from None
        db.session.commit()
        click.echo(f"Changed the password of {user.email}; {ended} session{'s' if ended != 1 else ''} "
                   "signed out.")
