"""URLs made safe to print: an endpoint's credentials live in its user info (`user:password@`), its path (an API key:
`/v3/<key>`) or its query (`?apikey=`, `password=`), so messages and logs name only the scheme, host and port.

    redact_url("https://mainnet.infura.io/v3/KEY")          -> "https://mainnet.infura.io/..."
    redact_url("postgresql://u:pw@db:5432/x", keep_path=True) -> "postgresql://***@db:5432/x"
    redact_urls("connect: ws://h:9/apikey/KEY: refused")      -> "connect: ws://h:9/...: refused"
"""

from __future__ import annotations

import re

__all__ = ["redact_url", "redact_urls"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# A URL inside free text: a scheme, then anything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*")
# requests/urllib3 name the path alone: "Max retries exceeded with url: /v3/KEY (Caused by ...)"
_PATH_IN_TEXT = re.compile(r"(\burl: )(/[^\s'\"<>`]*)", re.IGNORECASE)
_TRAILING = ".,:;)]}"


def redact_url(url: str, *, keep_path: bool = False) -> str:
    """`url` with its user info masked and, unless `keep_path` (a store URL: the path is a database name or a file),
    its path, query and fragment cut to `/...`. Works on anything, well-formed or not: text with no `scheme://` is
    treated as `host[:port][/path]`."""
    found = _SCHEME.match(url)
    scheme, rest = (found.group(0), url[found.end() :]) if found else ("", url)
    at = rest.rfind("@")
    userinfo = ""
    if at >= 0:  # the last "@": a password with an unescaped "/" or "@" in it is masked too
        userinfo, rest = "***@", rest[at + 1 :]
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i >= 0:
            end = min(end, i)
    host, tail = rest[:end], rest[end:]
    if keep_path:
        path, query = re.split(r"[?#]", tail, maxsplit=1)[0], re.search(r"[?#].", tail)
        tail = path + ("?..." if query else "")
    elif tail not in ("", "/"):
        tail = "/..."
    return f"{scheme}{userinfo}{host}{tail}"


def redact_urls(text: str) -> str:
    """Every URL in `text` (an exception's message, say) redacted as `redact_url` does, the rest unchanged."""

    def one(found: re.Match[str]) -> str:
        url = found.group(0)
        kept = len(url.rstrip(_TRAILING))
        return redact_url(url[:kept]) + url[kept:]

    return _PATH_IN_TEXT.sub(r"\1/...", _URL_IN_TEXT.sub(one, text))
