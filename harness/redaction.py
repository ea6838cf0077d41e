"""Keep secrets out of everything the harness records or prints.

Two rules: credentials embedded in a URI (`http://user:password@host`) are replaced by `***`
wherever a URI is recorded or printed, and the value of any environment variable whose name
suggests a secret (`*TOKEN*`, `*PASSWORD*`, `*SECRET*`, `*KEY*`) is replaced by `***` in text the
harness writes from outside sources (error messages, server replies). This module only rewrites
strings; the caller passes in the environment it read at the entry point.
"""

from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY", re.IGNORECASE)
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def redact_uri(uri: str | None) -> str | None:
    """The URI with any user name and password replaced by ***; other URIs unchanged."""
    if not uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of environment variables named like secrets, longest first."""
    values = {value for name, value in environ.items() if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH}
    return tuple(sorted(values, key=len, reverse=True))


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret value and every URI's credentials masked."""
    for value in secrets:
        text = text.replace(value, MASK)
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@", rf"\1{MASK}@", text)
