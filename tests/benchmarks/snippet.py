"""snippet: bytes of the tracking script an enabled site serves, raw and gzipped (target: gzipped ≤ 1000),
for each build: standard, and first-party (snippet_first_party_gzip_bytes, as the proxy serves it).

The script is on every page of the tracked website, so its compressed size is what visitors pay.
"""
from __future__ import annotations

import gzip

from app import create_app
from app.extensions import db
from app.tracking import setup
from app.tracking.first_party import PROXY_HEADER
from tests.benchmarks.harness import BenchmarkFailed, Environment, create_owner

# A realistic address: the collect URL inside the script is part of what is measured.
PUBLIC_URL = "https://footfall.example.com"


def run(env: Environment) -> dict[str, int]:
    app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL))
    with app.app_context():
        owner = create_owner()
        site = setup.get_site(owner.account_id)
        site_key = site.site_key
        standard = served(app, site_key, {})
        setup.set_first_party(site, owner, True)
        db.session.commit()
        proxy = {PROXY_HEADER: site.proxy_secret, "X-Forwarded-For": "203.0.113.1"}
        first_party = served(app, site_key, proxy)
    return {"snippet_gzip_bytes": len(gzip.compress(standard, 9)), "snippet_raw_bytes": len(standard),
            "snippet_first_party_gzip_bytes": len(gzip.compress(first_party, 9))}


def served(app, site_key: str, headers: dict) -> bytes:
    response = app.test_client().get(f"/t/{site_key}.js", headers=headers)
    script = response.get_data()
    if response.status_code != 200 or site_key.encode() not in script:
        raise BenchmarkFailed(f"/t/{site_key}.js answered {response.status_code} without the site's settings")
    return script
