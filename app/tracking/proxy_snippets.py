"""The reverse-proxy rules of first-party mode, ready to paste, with the site's secret filled in.

Each forwards /ff/ of the website to this instance (which answers 404 to anything but the script,
/collect and /forget when a request carries the proxy's header, so no page of the app ever shows
on the website's domain), passes the visitor's cookies and address, adds the secret, and passes
Footfall's Set-Cookie back: the defaults of each server, so the rules stay short. The
nginx rule is exercised for real by the browser tests (tests/browser/test_first_party.py); the
others follow each server's documented way of doing the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from app.tracking.first_party import PATH_PREFIX, PROXY_HEADER


@dataclass(frozen=True)
class ProxySnippet:
    key: str
    name: str
    where: str  # where the rule goes
    text: str


def _nginx(upstream: str, host: str, secret: str) -> str:
    sni = "\n    proxy_ssl_server_name on;" if upstream.startswith("https:") else ""
    return f"""location ^~ {PATH_PREFIX}/ {{
    proxy_pass {upstream}/;{sni}
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header {PROXY_HEADER} "{secret}";
}}"""


def _caddy(upstream: str, host: str, secret: str) -> str:
    return f"""handle_path {PATH_PREFIX}/* {{
    reverse_proxy {upstream} {{
        header_up Host {{upstream_hostport}}
        header_up X-Forwarded-For {{remote_host}}
        header_up {PROXY_HEADER} "{secret}"
    }}
}}"""


def _apache(upstream: str, host: str, secret: str) -> str:
    ssl = "SSLProxyEngine on\n" if upstream.startswith("https:") else ""
    return f"""# mod_proxy, mod_proxy_http and mod_headers; mod_proxy adds X-Forwarded-For itself.
{ssl}<Location "{PATH_PREFIX}/">
    ProxyPass "{upstream}/"
    RequestHeader set {PROXY_HEADER} "{secret}"
</Location>"""


def _cloudflare(upstream: str, host: str, secret: str) -> str:
    return f"""// A Worker on the website's route (for example shop.example/ff/*).
const FOOTFALL = "{upstream}";
const ALLOWED = /^{PATH_PREFIX}\\/(t\\/[A-Za-z0-9_-]+\\.js|collect|forget)$/;

export default {{
  async fetch(request) {{
    const url = new URL(request.url);
    const match = url.pathname.match(ALLOWED);
    if (!match) return new Response("Not found", {{ status: 404 }});
    const headers = new Headers(request.headers);
    headers.set("{PROXY_HEADER}", "{secret}");
    headers.set("X-Forwarded-For", request.headers.get("CF-Connecting-IP") || "");
    return fetch(`${{FOOTFALL}}/${{match[1]}}${{url.search}}`, {{
      method: request.method, headers, body: request.body, redirect: "manual",
    }});
  }},
}};"""


def _nextjs(upstream: str, host: str, secret: str) -> str:
    return f"""// middleware.js (Next.js 13 or later): a rewrite keeps the website's origin, so cookies stay
// first-party.
import {{ NextResponse }} from "next/server";

const ALLOWED = /^{PATH_PREFIX}\\/(t\\/[A-Za-z0-9_-]+\\.js|collect|forget)$/;

export function middleware(request) {{
  const match = request.nextUrl.pathname.match(ALLOWED);
  if (!match) return new NextResponse("Not found", {{ status: 404 }});
  const headers = new Headers(request.headers);
  headers.set("{PROXY_HEADER}", "{secret}");
  const forwarded = (request.headers.get("x-forwarded-for") || "").split(",").pop().trim();
  headers.set("X-Forwarded-For", request.ip || forwarded);
  return NextResponse.rewrite(new URL(`{upstream}/${{match[1]}}${{request.nextUrl.search}}`),
                              {{ request: {{ headers }} }});
}}

export const config = {{ matcher: "{PATH_PREFIX}/:path*" }};"""


_SERVERS = (
    ("nginx", "nginx", "inside the website's server {} block", _nginx),
    ("caddy", "Caddy", "inside the website's site block in the Caddyfile", _caddy),
    ("apache", "Apache", "inside the website's <VirtualHost>", _apache),
    ("cloudflare", "Cloudflare Worker", "a Worker bound to the website's /ff/* route", _cloudflare),
    ("nextjs", "Next.js", "middleware.js at the root of the Next.js app", _nextjs),
)


def proxy_snippets(public_url: str, secret: str) -> list[ProxySnippet]:
    """The rules for each server, forwarding to this instance at `public_url`."""
    upstream = public_url.rstrip("/")
    host = urlsplit(upstream).netloc
    return [ProxySnippet(key, name, where, render(upstream, host, secret))
            for key, name, where, render in _SERVERS]
