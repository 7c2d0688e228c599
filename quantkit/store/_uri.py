"""Private: ArcticDB URI handling, the only back-end-specific code of the store.

* :func:`normalise_uri` turns equivalent spellings of one store into one cache key
  (``lmdb://~/x/``, ``lmdb:///home/me/x``), so a process never opens an LMDB
  environment twice.
* :func:`redact_uri` hides credentials before a URI is shown or logged.
"""

from __future__ import annotations

import os
import re

__all__ = ["normalise_uri", "redact_uri"]

_SECRET_KEYS = ("secret", "access", "accountkey", "password", "token", "sas_token", "aws_secret_access_key")
_SECRET_RE = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + "|".join(_SECRET_KEYS) + r")=([^&;]*)")


def normalise_uri(uri: str) -> str:
    """A canonical spelling of ``uri`` for caching.

    ``lmdb://`` paths are made absolute (``~`` expanded, trailing ``/`` removed; query options such
    as ``?map_size=20GB`` kept). Other schemes (``s3://``, ``s3s://``, ``azure://``, ``mem://``)
    are returned unchanged.

    Raises:
        ValueError: ``uri`` has no ``scheme://`` (the message names it, credentials redacted).

    Examples:
        >>> normalise_uri("lmdb:///tmp/ticks/")
        'lmdb:///tmp/ticks'
    """
    if "://" not in uri:
        raise ValueError(f"uri {redact_uri(uri)!r} is not an ArcticDB URI (expected lmdb:///path or s3://host:bucket?...)")
    scheme, rest = uri.split("://", 1)
    if scheme.lower() != "lmdb":
        return uri
    path, sep, query = rest.partition("?")
    path = os.path.abspath(os.path.expanduser(path)) if path else path
    path = path.rstrip("/") or "/"
    return f"lmdb://{path}{sep}{query}"


def redact_uri(uri: str) -> str:
    """``uri`` with credential values replaced by ``***``.

    Examples:
        >>> redact_uri("s3://127.0.0.1:ticks?access=me&secret=hunter2&port=9000")
        's3://127.0.0.1:ticks?access=***&secret=***&port=9000'
    """
    return _SECRET_RE.sub(lambda m: f"{m.group(1)}=***", uri)
