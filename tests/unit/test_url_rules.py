"""URL rules in Python (triggers) and their prefilter: a page the prefilter dismisses matches no rule."""
from hypothesis import given, strategies as st

from app.tracking.urls import compile_url_rule, match_forms, text_matches, url_rule_literal

URLS = ["https://www.shop.example/pricing", "http://shop.example/pricing/", "https://shop.example/Pricing?cid=abc",
        "https://blog.shop.example/post?a=1", "https://shop.example/", "https://shop.example/a_b%25c"]
VALUES = ["/pricing", "pricing", "shop.example/pricing", "https://www.shop.example/pricing/", "/", "blog",
          "*pricing*", "shop.example/*", "/p*g", "a_b", "%", "Pricing", "(", "a.b", "*"]
OPS = ["is", "is_not", "contains", "not_contains", "starts_with", "ends_with", "matches"]


@given(st.sampled_from(URLS), st.sampled_from(VALUES), st.sampled_from(OPS))
def test_the_prefilter_never_dismisses_a_match(url, value, op):
    forms = match_forms(url)
    implied = url_rule_literal(op, value)
    if implied is None:
        assert op in ("is_not", "not_contains")
        return
    form, text = implied
    if compile_url_rule(op, value)(*forms):
        assert text in (forms[0] if form == "url" else forms[1])


def test_rules_match_as_segments_do():
    forms = match_forms("https://WWW.Shop.example/pricing/?plan=pro&cid=x")
    assert compile_url_rule("is", "https://shop.example/pricing?plan=pro")(*forms)
    assert compile_url_rule("starts_with", "/pricing")(*forms)
    assert compile_url_rule("matches", "/pri*ng?plan=*")(*forms)
    assert not compile_url_rule("contains", "/Pricing")(*forms)


@given(st.text(alphabet="ab*", max_size=8), st.text(alphabet="ab", max_size=10))
def test_wildcards_match_what_a_regular_expression_of_the_pattern_matches(pattern, text):
    import re

    expected = re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text, re.S) is not None
    assert text_matches("matches", text, pattern) is expected


def test_the_worst_wildcard_rules_are_decided():
    """(A regular expression took minutes for the first: this test would hang.)"""
    forms = match_forms("https://shop.example/" + "a" * 1000)
    for pattern in ("*a*a*a*a*a*!", "/" + "*a" * 400 + "*!", "*" + "a" * 500 + "b*"):
        assert not compile_url_rule("matches", pattern)(*forms)
        assert not text_matches("matches", forms[1], pattern)
    assert compile_url_rule("matches", "/" + "*a" * 400 + "*")(*forms)
