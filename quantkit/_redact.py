"""Private: the one rule that hides credentials in a URI before it is shown, logged or stored in a report.

Masked: the value of every option whose name contains ``secret``, ``access``, ``password``,
``passwd``, ``token``, ``key``, ``sig`` or ``credential`` (case-insensitive; options separated
by ``?``, ``&`` or ``;``, as in ArcticDB's ``s3://host:bucket?access=..&secret=..`` and Azure's
``AccountKey=..;``), and a ``user:password@`` part.
"""

from __future__ import annotations

import re
from typing import overload

__all__ = ["redact_uri"]

_SECRET_OPTION = re.compile(
    r"(?i)(^|[?&;/])([A-Za-z0-9_.-]*(?:secret|access|password|passwd|token|key|sig|credential)[A-Za-z0-9_.-]*)=([^&;]*)"
)
_USERINFO = re.compile(r"://[^/@?]*:[^/@?]*@")


@overload
def redact_uri(uri: str) -> str: ...


@overload
def redact_uri(uri: None) -> None: ...


def redact_uri(uri: str | None) -> str | None:
    """``uri`` with credential values replaced by ``***`` (``None`` stays ``None``).

    Examples:
        >>> redact_uri("s3://127.0.0.1:ticks?access=me&secret=hunter2&port=9000")
        's3://127.0.0.1:ticks?access=***&secret=***&port=9000'
        >>> redact_uri("azure://AccountName=a;AccountKey=k2;Container=c")
        'azure://AccountName=a;AccountKey=***;Container=c'
        >>> redact_uri("https://me:pw@host/x")
        'https://***@host/x'
    """
    if uri is None:
        return None
    out = _SECRET_OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", uri)
    return _USERINFO.sub("://***@", out)
