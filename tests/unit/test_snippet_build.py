"""The served tracking script is the build of the current source, within its size budget."""
import gzip
from dataclasses import replace

import pytest

from app.tracking import snippet
from app.tracking.sites import SiteInfo

KEY = "AbCdEfGhIjKlMnOp"
SITE = SiteInfo(1, 1, "shop.example", enabled=True, respect_privacy_signals=True)


@pytest.mark.parametrize("first_party", [False, True])
def test_both_builds_match_the_source(first_party):
    assert snippet.built_from(first_party) == snippet.source_digest(), \
        "static/tracker changed: run `make tracker`"


@pytest.mark.parametrize("first_party", [False, True])
def test_each_served_script_is_at_most_1000_bytes_gzipped(first_party):
    site = replace(SITE, first_party=first_party, proxy_secret="s" * 43 if first_party else "")
    served = snippet.served_script(KEY, site, "https://footfall.example.com/collect").encode()
    assert len(gzip.compress(served, 9)) <= 1000
    assert b'"k":"AbCdEfGhIjKlMnOp"' in served and b"FOOTFALL_CONFIG" not in served
    assert b"FIRST_PARTY" not in served and b"s" * 43 not in served  # the secret is the proxy's only


def test_the_first_party_script_keeps_no_cookie_and_finds_its_endpoint_beside_itself():
    standard = snippet.served_script(KEY, SITE, "https://footfall.example.com/collect")
    first_party = snippet.served_script(KEY, replace(SITE, first_party=True),
                                        "https://footfall.example.com/collect")
    assert ".cookie" in standard and '"e":"https://footfall.example.com/collect"' in standard
    assert ".cookie" not in first_party and "footfall.example.com" not in first_party
    assert "currentScript" in first_party and "/forget" in first_party


def test_a_disabled_site_gets_a_script_that_does_nothing():
    served = snippet.served_script(KEY, replace(SITE, enabled=False), "https://x/collect")
    assert served.strip().startswith("/*") and served.strip().endswith("*/")
    assert "turned off" in served
