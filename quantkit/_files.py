"""Private: file helpers used across layers: atomic text writes, and finding the source checkout.

* :func:`atomic_write_text`: a reader of the file sees the old content or the new one, never
  half a file (temporary file in the same folder, then ``os.replace``).
* :func:`find_checkout`: the quantkit checkout holding ``notebooks/`` and ``jupyter_config/``
  (the commands that start Jupyter or Voila, and the report templates, need it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["atomic_write_text", "find_checkout", "package_checkout"]


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path``'s content with ``text`` atomically; creates the parent folder.

    The temporary file (``.<name>.<pid>.<thread>.tmp`` next to ``path``) is unique per process and
    thread, so concurrent writers never share one; it is removed if the write fails.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding=encoding)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def _is_checkout(base: Path) -> bool:
    return (base / "notebooks").is_dir() and (base / "jupyter_config").is_dir()


def package_checkout() -> Path:
    """The folder above the installed ``quantkit`` package (the checkout, for an editable install)."""
    return Path(__file__).resolve().parents[1]


def find_checkout(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The checkout holding ``notebooks/`` and ``jupyter_config/``: this package's, else ``start`` (default: cwd).

    Returns:
        The folder, or ``None`` when neither is a checkout (an installed wheel run elsewhere).
    """
    for base in (package_checkout(), Path(start if start is not None else Path.cwd()).resolve()):
        if _is_checkout(base):
            return base
    return None
