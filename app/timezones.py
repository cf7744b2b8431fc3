"""Account time zones: every time the UI shows and every schedule a marketer sets (a campaign's
send time, a date trigger's time of day) is in the account's IANA time zone; the database stores
UTC (app/models/types.py, aware datetimes in Python). The zones come from the tzdata package where
the system has none."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

UTC = "UTC"
_LEGACY = ("Etc/", "SystemV/", "US/", "posix", "right/", "Canada/", "Brazil/", "Chile/", "Mexico/")


@lru_cache(maxsize=1)
def zones() -> tuple[str, ...]:
    """The zones an account may choose: UTC, then the Region/City ones, sorted."""
    return (UTC, *sorted(zone for zone in available_timezones()
                         if "/" in zone and not zone.startswith(_LEGACY)))


def check_zone(name: str | None) -> str:
    name = (name or "").strip()
    if name not in zones():
        raise ValueError("Choose a time zone from the list (a region and a city, such as Europe/Paris).")
    return name


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or UTC)
    except (ValueError, KeyError):  # (a zone removed from tzdata since it was chosen)
        return ZoneInfo(UTC)


def local(moment: datetime, name: str | None) -> datetime:
    """A time (naive ones are taken as UTC) in the zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    try:
        return aware.astimezone(zone(name))
    except OverflowError:  # (the last hours of year 9999, east of UTC: shown in UTC)
        return aware.astimezone(timezone.utc)


def to_utc(wall: datetime, name: str | None) -> datetime:
    """A wall-clock time typed in the zone (naive), in UTC. A time skipped or repeated by a clock
    change is read as the first of its two readings. ValueError for one beyond the years a
    datetime holds once moved to UTC."""
    try:
        return wall.replace(tzinfo=zone(name)).astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("That time is out of range.") from None


def shown(moment: datetime | None, name: str | None) -> str:
    """"2026-12-03 09:15 CET": as the UI prints a time."""
    if moment is None:
        return ""
    there = local(moment, name)
    return f"{there:%Y-%m-%d %H:%M} {there.tzname() or name}"
