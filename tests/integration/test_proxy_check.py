"""The install check in first-party mode, against a real nginx in front of a website and the app:
it recognises a working proxy and says what is wrong with a broken one."""
import re
import textwrap

import pytest

from app.demo import DemoWebsite
from app.extensions import db
from app.tracking import setup
from app.tracking.first_party import PROXY_HEADER
from tests.support import free_port, nginx


@pytest.fixture
def first_party_site(site, user, server):
    setup.set_first_party(site, user, True)
    db.session.commit()
    website = DemoWebsite(setup.embed_code(site, server), free_port()).start()
    yield site, website
    website.stop()


def nginx_rule(site, server) -> str:
    (rule,) = [rule for rule in setup.proxy_rules(site, server) if rule.key == "nginx"]
    return rule.text


def check(site, user, server, website, tmp_path, ff_location: str) -> dict:
    locations = (textwrap.indent(ff_location, " " * 8)
                 + f"\n        location / {{ proxy_pass {website.url}; }}")
    with nginx(tmp_path / "nginx", locations) as url:
        setup.change_website(site, user, url)
        db.session.commit()
        return setup.run_install_check(site.id, allow_private=True)


def test_the_rule_from_settings_works(first_party_site, user, server, tmp_path):
    site, website = first_party_site
    result = check(site, user, server, website, tmp_path, nginx_rule(site, server))
    assert result["outcome"] == "found_in_head"
    assert "The proxy at" in result["message"]
    assert "your website's server sets the cookies" in result["message"]


@pytest.mark.parametrize("change, says", [
    (lambda rule, secret: "", "does not lead to Footfall"),
    (lambda rule, secret: rule.replace(f'    proxy_set_header {PROXY_HEADER} "{secret}";\n', ""),
     f"does not add the {PROXY_HEADER} header"),
    (lambda rule, secret: rule.replace(secret, "s" * len(secret)), "header that is not this site's"),
    (lambda rule, secret: rule.replace("$remote_addr", '"somewhere"'), "does not pass the visitor's address"),
    (lambda rule, secret: re.sub(r"proxy_set_header Cookie .*;", 'proxy_set_header Cookie "";', rule),
     "does not pass the browser's cookies"),
    (lambda rule, secret: rule.replace("}", "    proxy_hide_header Set-Cookie;\n}"),
     "drops Footfall's Set-Cookie"),
    (lambda rule, secret: rule.replace("location ^~ /ff/ {", "location ^~ /ff/t/ {").replace("/;", "/t/;"),
     "does not lead to Footfall's /collect"),
], ids=["no rule", "no secret", "wrong secret", "no address", "no cookies", "no set-cookie", "script only"])
def test_a_broken_proxy_is_explained(first_party_site, user, server, tmp_path, change, says):
    site, website = first_party_site
    rule = change(nginx_rule(site, server), site.proxy_secret)
    result = check(site, user, server, website, tmp_path, rule)
    assert result["outcome"] == "proxy_broken", result
    assert says in result["message"], result["message"]


def test_the_rule_passes_on_only_footfalls_cookies_and_no_credentials(first_party_site, server, tmp_path,
                                                                       monkeypatch):
    import http.client

    from flask import request

    from app import ingest

    seen = []
    original = ingest._proxied
    monkeypatch.setattr(ingest, "_proxied", lambda: seen.append(dict(request.headers)) or original())
    site, website = first_party_site
    locations = textwrap.indent(nginx_rule(site, server), " " * 8)
    with nginx(tmp_path / "nginx", locations) as url:
        connection = http.client.HTTPConnection(url.split("//")[1], timeout=10)
        connection.request("GET", f"/ff/t/{site.site_key}.js", headers={
            "Cookie": "shop_session=SECRET-SESSION; _ff_vid=visitor-0001.1; _ff_id=token",
            "Authorization": "Basic c3RhZmY6cGFzcw==", "X-Forwarded-For": "6.6.6.6"})
        assert connection.getresponse().status == 200
    (headers,) = seen
    assert "SECRET-SESSION" not in headers.get("Cookie", "") and "_ff_vid=visitor-0001.1" in headers["Cookie"]
    assert not headers.get("Authorization") and headers["X-Forwarded-For"] == "127.0.0.1"
