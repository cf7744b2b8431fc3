"""tag_url against the web-platform-tests URL corpus and the cases marketers produce."""
import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from app.messaging.links import tag_url

CORPUS = Path(__file__).resolve().parents[1] / "data" / "urltestdata.json"


def expected(href: str, token: str) -> str:
    """The rule of tests/data/README.md."""
    base, mark, fragment = href.partition("#")
    if "?" not in base:
        tagged = f"{base}?cid={token}"
    elif base.endswith("?"):
        tagged = f"{base}cid={token}"
    else:
        tagged = f"{base}&cid={token}"
    return tagged + mark + fragment


def corpus_entries():
    if not CORPUS.exists():
        pytest.fail(f"missing test corpus {CORPUS}")
    entries = [entry for entry in json.loads(CORPUS.read_text())
               if isinstance(entry, dict) and "failure" not in entry
               and entry.get("protocol") in ("http:", "https:")
               and "cid=" not in entry["href"]]
    return entries


def test_every_http_entry_of_the_corpus_is_tagged_by_the_rule():
    entries = corpus_entries()
    assert len(entries) >= 200
    for entry in entries:
        assert tag_url(entry["href"], "TOKEN") == expected(entry["href"], "TOKEN"), entry["href"]


@pytest.mark.parametrize("url, tagged", [
    ("https://shop.example/p?a=1&cid=old&b=2#top", "https://shop.example/p?a=1&b=2&cid=T#top"),
    ("https://shop.example/p?cid=old", "https://shop.example/p?cid=T"),
    ("https://shop.example/p?cid=old#x", "https://shop.example/p?cid=T#x"),
    ("https://shop.example/p?acid=1", "https://shop.example/p?acid=1&cid=T"),
    ("https://shop.example/#/route?x=1", "https://shop.example/?cid=T#/route?x=1"),
])
def test_existing_cid_is_replaced_and_lookalikes_kept(url, tagged):
    assert tag_url(url, "T") == tagged


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "utm_source", "cid", "x"]),
                          st.text("abc123%-", max_size=5)), max_size=5),
       st.text("abc/#", max_size=6))
def test_exactly_one_cid_and_other_parameters_kept_in_order(params, fragment):
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"https://shop.example/page?{query}" + (f"#{fragment}" if fragment else "")
    tagged = tag_url(url, "TOKEN")
    base, _, tail = tagged.partition("#")
    assert tail == fragment
    pairs = [p for p in base.partition("?")[2].split("&") if p]
    assert [p for p in pairs if p.startswith("cid=")] == ["cid=TOKEN"]
    assert [p for p in pairs if not p.startswith("cid=")] == [f"{k}={v}" for k, v in params if k != "cid"
                                                              and f"{k}={v}"]
