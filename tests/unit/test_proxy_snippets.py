"""The proxy rules Settings shows parse in their own language: nginx's, and JavaScript's for the
Cloudflare Worker and Next.js middleware (nginx runs the rule for real in the browser tests)."""
import shutil
import subprocess

import pytest

from app.tracking.proxy_snippets import proxy_snippets
from tests.support import NGINX

RULES = {rule.key: rule for rule in proxy_snippets("https://127.0.0.1:8443", "S" * 43)}


@pytest.mark.parametrize("key", ["cloudflare", "nextjs"])
def test_the_javascript_rules_parse(key, tmp_path):
    node = shutil.which("node")
    assert node, "node is missing: scripts/system-deps installs it"
    script = tmp_path / f"{key}.mjs"
    script.write_text(RULES[key].text)
    checked = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_nginx_rule_parses(tmp_path):
    config = tmp_path / "nginx.conf"
    config.write_text(f"""pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    server {{
        listen 127.0.0.1:8080;
{RULES["nginx"].text}
    }}
}}
""")
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stderr


def test_every_rule_forwards_the_secret_and_keeps_the_websites_credentials_back():
    for rule in RULES.values():
        assert "S" * 43 in rule.text and "Authorization" in rule.text, rule.name
    for key in ("nginx", "caddy", "cloudflare", "nextjs"):
        assert "_ff_vid" in RULES[key].text and "_ff_id" in RULES[key].text, key
