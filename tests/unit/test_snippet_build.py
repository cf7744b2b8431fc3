"""The served tracking script is the build of the current source, within its size budget."""
import gzip
from dataclasses import replace

from app.tracking import snippet
from app.tracking.ingest import SiteInfo

KEY = "AbCdEfGhIjKlMnOp"
SITE = SiteInfo(1, 1, "shop.example", enabled=True, respect_privacy_signals=True)


def test_the_build_matches_the_source():
    assert snippet.built_from() == snippet.source_digest(), "static/tracker changed: run `make tracker`"


def test_the_served_script_is_at_most_1000_bytes_gzipped():
    served = snippet.served_script(KEY, SITE, "https://footfall.example.com/collect").encode()
    assert len(gzip.compress(served, 9)) <= 1000
    assert b'"k":"AbCdEfGhIjKlMnOp"' in served and b"FOOTFALL_CONFIG" not in served


def test_a_disabled_site_gets_a_script_that_does_nothing():
    served = snippet.served_script(KEY, replace(SITE, enabled=False), "https://x/collect")
    assert served.strip().startswith("/*") and served.strip().endswith("*/")
    assert "turned off" in served
