"""The install check in first-party mode, against a real nginx in front of a website and the app:
it recognises a working proxy and says what is wrong with a broken one."""
import textwrap

import pytest

from app.demo import DemoWebsite
from app.extensions import db
from app.tracking import setup
from app.tracking.first_party import PROXY_HEADER
from tests.support import free_port, live_server, nginx


@pytest.fixture
def footfall(app):
    with live_server(app) as url:
        app.config["PUBLIC_URL"] = url
        yield url


@pytest.fixture
def first_party_site(site, user, footfall):
    setup.set_first_party(site, user, True)
    db.session.commit()
    website = DemoWebsite(setup.embed_code(site, footfall), free_port()).start()
    yield site, website
    website.stop()


def nginx_rule(site, footfall) -> str:
    (rule,) = [rule for rule in setup.proxy_rules(site, footfall) if rule.key == "nginx"]
    return rule.text


def check(site, user, footfall, website, tmp_path, ff_location: str) -> dict:
    locations = (textwrap.indent(ff_location, " " * 8)
                 + f"\n        location / {{ proxy_pass {website.url}; }}")
    with nginx(tmp_path / "nginx", locations) as url:
        setup.change_website(site, user, url)
        db.session.commit()
        return setup.run_install_check(site.id, allow_private=True)


def test_the_rule_from_settings_works(first_party_site, user, footfall, tmp_path):
    site, website = first_party_site
    result = check(site, user, footfall, website, tmp_path, nginx_rule(site, footfall))
    assert result["outcome"] == "found_in_head"
    assert "The proxy at" in result["message"]
    assert "your website's server sets the cookies" in result["message"]


@pytest.mark.parametrize("change, says", [
    (lambda rule, secret: "", "does not lead to Footfall"),
    (lambda rule, secret: rule.replace(f'    proxy_set_header {PROXY_HEADER} "{secret}";\n', ""),
     f"does not add the {PROXY_HEADER} header"),
    (lambda rule, secret: rule.replace(secret, "s" * len(secret)), "header that is not this site's"),
    (lambda rule, secret: rule.replace("$remote_addr", '"somewhere"'), "does not pass the visitor's address"),
    (lambda rule, secret: rule.replace("}", '    proxy_set_header Cookie "";\n}'),
     "does not pass the browser's cookies"),
    (lambda rule, secret: rule.replace("}", "    proxy_hide_header Set-Cookie;\n}"),
     "drops Footfall's Set-Cookie"),
    (lambda rule, secret: rule.replace("location ^~ /ff/ {", "location ^~ /ff/t/ {").replace("/;", "/t/;"),
     "does not lead to Footfall's /collect"),
], ids=["no rule", "no secret", "wrong secret", "no address", "no cookies", "no set-cookie", "script only"])
def test_a_broken_proxy_is_explained(first_party_site, user, footfall, tmp_path, change, says):
    site, website = first_party_site
    rule = change(nginx_rule(site, footfall), site.proxy_secret)
    result = check(site, user, footfall, website, tmp_path, rule)
    assert result["outcome"] == "proxy_broken", result
    assert says in result["message"], result["message"]
