"""The served tracking script is the build of the current source, within its size budget."""
import gzip
from types import SimpleNamespace

from app.tracking import snippet

SITE = SimpleNamespace(enabled=True, site_key="AbCdEfGhIjKlMnOp", respect_privacy_signals=True)


def test_the_build_matches_the_source():
    assert snippet.built_from() == snippet.source_digest(), "static/tracker changed: run `make tracker`"


def test_the_served_script_is_at_most_1000_bytes_gzipped():
    served = snippet.served_script(SITE, "https://footfall.example.com/collect").encode()
    assert len(gzip.compress(served, 9)) <= 1000
    assert b'"k":"AbCdEfGhIjKlMnOp"' in served and b"FOOTFALL_CONFIG" not in served


def test_a_disabled_site_gets_a_script_that_does_nothing():
    served = snippet.served_script(SimpleNamespace(**{**vars(SITE), "enabled": False}), "https://x/collect")
    assert served.strip().startswith("/*") and served.strip().endswith("*/")
    assert "turned off" in served
