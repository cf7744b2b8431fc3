"""The served tracking script.

static/tracker/footfall.js is the readable, commented source; footfall.min.js is its terser
build (`make tracker`), whose first line records the SHA-256 of the source it was built from so
a test catches a stale build. The served script is the build with the site's settings filled in;
while tracking is off, a script that does nothing, which browsers must ask for again on every page
(app/ingest), so the first page after tracking is turned on is tracked.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from functools import lru_cache

from app.config import PROJECT_ROOT
from app.tracking.ingest import SiteInfo

SOURCE = PROJECT_ROOT / "static" / "tracker" / "footfall.js"
BUILD = PROJECT_ROOT / "static" / "tracker" / "footfall.min.js"
DISABLED_SCRIPT = "/* Footfall: website tracking is turned off for this site. This script does nothing. */\n"
PLACEHOLDER = "FOOTFALL_CONFIG"
TERSER = "terser@5"


def source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def _build() -> tuple[str, str]:
    header, _, body = BUILD.read_text().partition("\n")
    return header, body.strip()


def built_from() -> str:
    """The source digest the build was made from."""
    return _build()[0].removeprefix("// source sha256 ").strip()


def served_script(site_key: str, site: SiteInfo, collect_url: str) -> str:
    if not site.enabled:
        return DISABLED_SCRIPT
    config = json.dumps({"k": site_key, "e": collect_url, "p": site.respect_privacy_signals},
                        separators=(",", ":"))
    return _build()[1].replace(PLACEHOLDER, config)


def build() -> None:
    """Minify the source with terser (fetched by npx into a scratch folder) into the build file."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "install", "--silent", "--prefix", scratch, TERSER], check=True)
        minified = subprocess.run(
            [f"{scratch}/node_modules/.bin/terser", str(SOURCE), "--compress", "passes=2", "--mangle",
             "--toplevel"], check=True, capture_output=True, text=True).stdout.strip()
    if PLACEHOLDER not in minified:
        raise SystemExit(f"the build lost the {PLACEHOLDER} placeholder")
    BUILD.write_text(f"// source sha256 {source_digest()}\n{minified}\n")


if __name__ == "__main__" and sys.argv[1:] == ["build"]:
    build()
