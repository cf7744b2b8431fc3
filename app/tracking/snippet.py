"""The served tracking script.

static/tracker/footfall.js is the readable, commented source; footfall.min.js (standard mode) and
footfall.first-party.min.js (first-party mode: app/tracking/first_party.py) are its terser builds
(`make tracker`), FIRST_PARTY defined false or true, whose first line records the SHA-256 of the
source they were built from so a test catches a stale build. The served script is a build with
the site's settings filled in; while tracking is off, a script that does nothing, which browsers
must ask for again on every page (app/ingest), so the first page after tracking is turned on is
tracked.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from functools import lru_cache

from app.config import PROJECT_ROOT
from app.tracking.sites import SiteInfo

SOURCE = PROJECT_ROOT / "static" / "tracker" / "footfall.js"
BUILDS = {False: PROJECT_ROOT / "static" / "tracker" / "footfall.min.js",
          True: PROJECT_ROOT / "static" / "tracker" / "footfall.first-party.min.js"}
DISABLED_SCRIPT = "/* Footfall: website tracking is turned off for this site. This script does nothing. */\n"
PLACEHOLDER = "FOOTFALL_CONFIG"
TERSER = "terser@5"


def source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


@lru_cache(maxsize=2)
def _build(first_party: bool) -> tuple[str, str]:
    header, _, body = BUILDS[first_party].read_text().partition("\n")
    return header, body.strip()


def built_from(first_party: bool = False) -> str:
    """The source digest a build was made from."""
    return _build(first_party)[0].removeprefix("// source sha256 ").strip()


def served_script(site_key: str, site: SiteInfo, collect_url: str) -> str:
    """The script for the site; in first-party mode it finds its endpoint beside its own address."""
    if not site.enabled:
        return DISABLED_SCRIPT
    settings = {"k": site_key, "p": int(site.respect_privacy_signals)}
    if not site.first_party:
        settings["e"] = collect_url
    return _build(site.first_party)[1].replace(PLACEHOLDER, json.dumps(settings, separators=(",", ":")))


def build() -> None:
    """Minify the source with terser (fetched by npm into a scratch folder) into both builds."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "install", "--silent", "--prefix", scratch, TERSER], check=True)
        for first_party, path in BUILDS.items():
            minified = subprocess.run(
                [f"{scratch}/node_modules/.bin/terser", str(SOURCE), "--compress", "passes=2", "--mangle",
                 "--toplevel", "--define", f"FIRST_PARTY={'true' if first_party else 'false'}"],
                check=True, capture_output=True, text=True).stdout.strip()
            if PLACEHOLDER not in minified or "FIRST_PARTY" in minified:
                raise SystemExit(f"the build of {path.name} lost {PLACEHOLDER} or kept FIRST_PARTY")
            path.write_text(f"// source sha256 {source_digest()}\n{minified}\n")


if __name__ == "__main__" and sys.argv[1:] == ["build"]:
    build()
