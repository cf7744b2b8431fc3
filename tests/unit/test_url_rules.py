"""URL rules in Python (triggers) agree with their prefilter patterns: a view the prefilter
dismisses matches no rule."""
from hypothesis import given, strategies as st

from app.tracking.urls import compile_url_rule, match_forms, url_rule_pattern
import re

URLS = ["https://www.shop.example/pricing", "http://shop.example/pricing/", "https://shop.example/Pricing?cid=abc",
        "https://blog.shop.example/post?a=1", "https://shop.example/", "https://shop.example/a_b%25c"]
VALUES = ["/pricing", "pricing", "shop.example/pricing", "https://www.shop.example/pricing/", "/", "blog",
          "*pricing*", "shop.example/*", "/p*g", "a_b", "%", "Pricing", "(", "a.b"]
OPS = ["is", "is_not", "contains", "not_contains", "starts_with", "ends_with", "matches"]


@given(st.sampled_from(URLS), st.sampled_from(VALUES), st.sampled_from(OPS))
def test_the_prefilter_never_dismisses_a_match(url, value, op):
    forms = match_forms(url)
    matched = compile_url_rule(op, value)(*forms)
    implied = url_rule_pattern(op, value)
    if implied is None:
        assert op in ("is_not", "not_contains")
        return
    form, pattern = implied
    found = re.search(pattern, forms[0] if form == "url" else forms[1], re.S) is not None
    assert found == matched
