"""Adding `cid` to a link without breaking it (docs/architecture.md, "Link tagging")."""
from __future__ import annotations

import re

_CID_PARAM = re.compile(r"(^|&)cid=[^&]*")


def tag_url(url: str, token: str) -> str:
    """The link with `cid=<token>` added to its query: other parameters kept in order, an existing
    `cid` replaced rather than duplicated, the fragment kept after the query."""
    base, hash_mark, fragment = url.partition("#")
    path, question_mark, query = base.partition("?")
    if question_mark:
        kept = _CID_PARAM.sub("", query).strip("&") if "cid=" in query else query
        if kept != query:
            query = kept.replace("&&", "&")
            base = f"{path}?{query}" if query else f"{path}?"
    if "?" not in base:
        tagged = f"{base}?cid={token}"
    elif base.endswith("?"):
        tagged = f"{base}cid={token}"
    else:
        tagged = f"{base}&cid={token}"
    return tagged + hash_mark + fragment
