"""Per-connection behaviour hooks: where fault injection plugs into the local exchange.

The server asks a :class:`ConnectionPolicy` at three points of every client
connection; the base class answers "behave like Binance" everywhere, so the
default exchange is faithful and pays nothing for the hooks (the server skips
them when the policy is the base class).

========================= =====================================================================
hook                      called
========================= =====================================================================
:meth:`~ConnectionPolicy.on_open`  once per HTTP request or WebSocket handshake, before anything else:
                          return ``(status, text)`` to refuse it (e.g. ``(503, "busy")``)
:meth:`~ConnectionPolicy.on_rest`  for a REST request: return a :class:`~quantkit.exchange.rest.RestReply`
                          to answer instead of the real endpoint (e.g. 429 with ``Retry-After``)
:meth:`~ConnectionPolicy.on_connect` once a WebSocket connection is open: receives the connection's
                          :class:`ConnectionControl` (drop it, stall it, send ``serverShutdown``)
:meth:`~ConnectionPolicy.outgoing` for each batch of data frames of one WebSocket connection: return the
                          frames to send (drop, duplicate, reorder, corrupt, insert bursts)
========================= =====================================================================

A ``policy_factory(path)`` given to :class:`~quantkit.exchange.LocalExchange`
makes one policy per connection, so faults can differ per connection (for
example: refuse the first two connection attempts, then accept). Every hook
runs in the exchange's event-loop thread; the test suite's ready-made faults
(disconnects, stalls, malformed/duplicate/reordered frames, REST errors) are in
``tests/_support/faults.py``.
"""

from __future__ import annotations

from typing import Callable, Protocol

from quantkit.exchange.rest import RestReply

__all__ = ["ConnectionControl", "ConnectionPolicy", "PolicyFactory", "default_policy"]


class ConnectionControl(Protocol):
    """What a policy may do to its open WebSocket connection (call from the hooks: the loop thread)."""

    @property
    def open(self) -> bool:
        """False once the connection is closing, dropped or stalled."""
        ...

    def drop(self) -> None:
        """Abort the TCP connection at once: no close frame, frames still queued are lost."""
        ...

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a WebSocket close frame after the frames already queued."""
        ...

    def stall(self, seconds: float | None = None) -> None:
        """Go silent: no data, no pings, no pongs, nothing read; after ``seconds`` drop the TCP
        connection (``None``: stay silent until the client gives up or the exchange stops)."""
        ...

    def server_shutdown(self) -> None:
        """Send Binance's ``serverShutdown`` event after the queued frames, then close (1001)."""
        ...


class ConnectionPolicy:
    """Hooks for one client connection; this base class changes nothing."""

    def on_open(self, path: str) -> tuple[int, str] | None:
        """Refuse the request/handshake for ``path`` by returning ``(HTTP status, body text)``; ``None`` accepts."""
        return None

    def on_rest(self, path: str) -> RestReply | None:
        """Answer the REST request ``path`` (with query) with this reply instead; ``None`` serves it normally."""
        return None

    def on_connect(self, control: ConnectionControl) -> None:
        """The WebSocket connection is open; keep ``control`` to act on it later."""
        return None

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        """The data frames to send for one batch (each a complete JSON text frame), in order."""
        return frames


#: Makes the policy of one connection from its request path (with query).
PolicyFactory = Callable[[str], ConnectionPolicy]

_DEFAULT = ConnectionPolicy()


def default_policy(path: str) -> ConnectionPolicy:
    """The shared do-nothing policy (the default factory)."""
    return _DEFAULT
