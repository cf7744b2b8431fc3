"""snippet: bytes of the tracking script an enabled site serves, raw and gzipped (target: gzipped ≤ 1000).

The script is on every page of the tracked website, so its compressed size is what visitors pay.
"""
from __future__ import annotations

import gzip

from app import create_app
from tests.benchmarks.harness import BenchmarkFailed, Environment, create_site

# A realistic address: the collect URL inside the script is part of what is measured.
PUBLIC_URL = "https://footfall.example.com"


def run(env: Environment) -> dict[str, int]:
    app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL))
    with app.app_context():
        site_key = create_site()
    response = app.test_client().get(f"/t/{site_key}.js")
    script = response.get_data()
    if response.status_code != 200 or site_key.encode() not in script:
        raise BenchmarkFailed(f"/t/{site_key}.js answered {response.status_code} without the site's settings")
    return {"snippet_gzip_bytes": len(gzip.compress(script, 9)), "snippet_raw_bytes": len(script)}
