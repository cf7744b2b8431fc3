"""The reverse-proxy rules of first-party mode, ready to paste, with the site's secret filled in.

Each forwards /ff/ of the website to this instance (which answers a bare 404 to anything but the
script, /collect and /forget when a request carries the proxy's header, so no page of the app
ever shows on the website's domain), adds the secret and the visitor's address, passes on only
Footfall's own cookies (never the website's sessions, nor an Authorization header), and passes
Footfall's Set-Cookie back. The
nginx rule is exercised for real by the browser tests (tests/browser/test_first_party.py); the
others follow each server's documented way of doing the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from app.tracking.first_party import OWN_COOKIES, PATH_PREFIX, PROXY_HEADER

# The path pattern in JavaScript: "/ff/..." with its slashes escaped inside a /regex/.
_JS_PATH = PATH_PREFIX.replace("/", "\\/") + r"\/(t\/[A-Za-z0-9_-]+\.js|collect|forget)$"


@dataclass(frozen=True)
class ProxySnippet:
    key: str
    name: str
    where: str  # where the rule goes
    text: str


def _js_list(names) -> str:
    return "[" + ", ".join(f'"{name}"' for name in names) + "]"


def _nginx(upstream: str, host: str, secret: str) -> str:
    sni = "\n    proxy_ssl_server_name on;" if upstream.startswith("https:") else ""
    cookies = "; ".join(f"{name}=$cookie_{name}" for name in OWN_COOKIES)
    return f"""location ^~ {PATH_PREFIX}/ {{
    proxy_pass {upstream}/;{sni}
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header {PROXY_HEADER} "{secret}";
    proxy_set_header Cookie "{cookies}";
    proxy_set_header Authorization "";
}}"""


def _caddy(upstream: str, host: str, secret: str) -> str:
    return f"""handle_path {PATH_PREFIX}/* {{
    reverse_proxy {upstream} {{
        header_up Host {{upstream_hostport}}
        header_up X-Forwarded-For {{remote_host}}
        header_up {PROXY_HEADER} "{secret}"
        header_up Cookie "{"; ".join(f"{name}={{http.request.cookie.{name}}}" for name in OWN_COOKIES)}"
        header_up -Authorization
    }}
}}"""


def _apache(upstream: str, host: str, secret: str) -> str:
    ssl = "SSLProxyEngine on\n" if upstream.startswith("https:") else ""
    return f"""# mod_proxy, mod_proxy_http and mod_headers; mod_proxy adds X-Forwarded-For itself.
# Apache cannot pick single cookies out of the Cookie header without mod_rewrite: it passes the
# website's other cookies on too (Footfall reads only its own and keeps none).
{ssl}<Location "{PATH_PREFIX}/">
    ProxyPass "{upstream}/"
    RequestHeader set {PROXY_HEADER} "{secret}"
    RequestHeader unset Authorization
</Location>"""


def _cloudflare(upstream: str, host: str, secret: str) -> str:
    return f"""// A Worker on the website's route (for example shop.example/ff/*).
const FOOTFALL = "{upstream}";
const ALLOWED = /^{_JS_PATH}/;
const OWN_COOKIES = {_js_list(OWN_COOKIES)};

export default {{
  async fetch(request) {{
    const url = new URL(request.url);
    const match = url.pathname.match(ALLOWED);
    if (!match) return new Response("Not found", {{ status: 404 }});
    const headers = new Headers(request.headers);
    headers.set("{PROXY_HEADER}", "{secret}");
    headers.set("Cookie", (request.headers.get("Cookie") || "").split(/;\\s*/)
      .filter((pair) => OWN_COOKIES.includes(pair.split("=")[0])).join("; "));
    headers.delete("Authorization");
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

const ALLOWED = /^{_JS_PATH}/;
const OWN_COOKIES = {_js_list(OWN_COOKIES)};

export function middleware(request) {{
  const match = request.nextUrl.pathname.match(ALLOWED);
  if (!match) return new NextResponse("Not found", {{ status: 404 }});
  const headers = new Headers(request.headers);
  headers.set("{PROXY_HEADER}", "{secret}");
  headers.set("Cookie", (request.headers.get("Cookie") || "").split(/;\\s*/)
    .filter((pair) => OWN_COOKIES.includes(pair.split("=")[0])).join("; "));
  headers.delete("Authorization");
  // request.ip where the host provides it (Vercel); else the address your own proxy in front of
  // Next.js put last in X-Forwarded-For (with no proxy in front, a visitor could write it).
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
