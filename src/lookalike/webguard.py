"""What keeps ``lookalike serve`` safe on a laptop: who may ask it anything.

A page on 127.0.0.1 can still be reached by other sites through the user's browser:
- **DNS rebinding**: a site whose name resolves to 127.0.0.1 reads the page as its own.
  Every request must name this server in its ``Host`` header (127.0.0.1, localhost, [::1]
  or the ``--host`` given, with the port).
- **Cross-site requests**: another site's form or script posting to the API.  A request
  whose ``Origin`` is not this server's own is refused, as is one a browser marks
  ``Sec-Fetch-Site: cross-site``.
- **Changes to the index** need the token the page was served with (``X-Lookalike-Token``),
  which another site cannot read.

Scripts (curl, Python) send no ``Origin`` and may match and compare freely.
"""

from __future__ import annotations

import hmac
import secrets

#: The header that carries the page's token on requests that change the index.
TOKEN_HEADER = "X-Lookalike-Token"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` headers this server answers to: loopback names, and ``host`` itself."""
    names = {*LOOPBACK, f"[{host}]" if ":" in host and not host.startswith("[") else host}
    return frozenset(f"{name}:{port}" for name in names)


def refusal(headers, allowed_hosts: frozenset[str]) -> str | None:
    """Why a request with these headers is refused, or None when it may be answered."""
    host = headers.get("Host", "")
    if host.lower() not in allowed_hosts:
        return f"this server answers requests for {sorted(allowed_hosts)[0]} only, not {host!r}"
    origin = headers.get("Origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in allowed_hosts}:
        return f"requests from {origin!r} are refused: use the page this server serves"
    if headers.get("Sec-Fetch-Site") == "cross-site":
        return "cross-site requests are refused: use the page this server serves"
    return None


def token_ok(headers, token: str) -> bool:
    return hmac.compare_digest(headers.get(TOKEN_HEADER, ""), token)
