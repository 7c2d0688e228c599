"""`quantkit serve` without starting a server: exposure rules, options, the command line, the websocket frame check."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from voila_helpers import free_port

from quantkit.config import StoreConfig
from quantkit.dashboard import serve as serve_mod
from quantkit.dashboard.commands import register
from quantkit.dashboard.serve import (
    ExposureError,
    GuardedIdentityProvider,
    ServeOptions,
    check_exposure,
    is_loopback,
    voila_command,
    voila_env,
)
from quantkit.errors import ConfigError, QuantkitError


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.20", False), ("10.0.0.1", False),
     ("no-such-host.invalid", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    """Only addresses that reach this machine alone count as loopback."""
    assert is_loopback(host) is loopback


def test_exposure_needs_a_token_or_a_password() -> None:
    """Beyond loopback without a token or password is an ExposureError (a ConfigError naming the address)."""
    check_exposure("127.0.0.1")
    check_exposure("0.0.0.0", token="abcdefgh123")
    check_exposure("0.0.0.0", hashed_password="argon2:$argon2id$v=19$...")
    with pytest.raises(ExposureError, match="ip='0.0.0.0'") as info:
        check_exposure("0.0.0.0")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, QuantkitError)


def test_the_identity_provider_refuses_unauthenticated_exposure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider named in voila.json exits with one line beyond loopback unless a token or password is set."""
    from voila.app import Voila

    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    GuardedIdentityProvider(parent=Voila(ip="127.0.0.1"), token="")
    with pytest.raises(SystemExit, match="^quantkit: ip='0.0.0.0': refusing"):
        GuardedIdentityProvider(parent=Voila(ip="0.0.0.0"), token="")
    assert GuardedIdentityProvider(parent=Voila(ip="0.0.0.0"), token="abcdefgh123").token == "abcdefgh123"
    GuardedIdentityProvider(parent=Voila(ip="0.0.0.0"), token="", hashed_password="sha1:abc:def")
    # Voila passes token="" when --token is not given; JUPYTER_TOKEN is honoured, then hidden from the kernels
    monkeypatch.setenv("JUPYTER_TOKEN", "from-the-env-123")
    assert GuardedIdentityProvider(parent=Voila(ip="0.0.0.0"), token="").token == "from-the-env-123"
    assert "JUPYTER_TOKEN" not in os.environ


def test_options_are_validated_and_the_command_line_carries_no_secret(tmp_path: Path) -> None:
    """Bad ports/timeouts/tokens are ConfigErrors; the token goes to JUPYTER_TOKEN, never on the Voila command line."""
    for bad in ({"port": 70000}, {"viewer_timeout_s": 0}, {"cull_idle_timeout_s": -1}, {"pool_size": 99},
                {"token": "short"}, {"token": "has space in it"}):  # fmt: skip
        with pytest.raises(ConfigError):
            ServeOptions(**bad)
    opts = ServeOptions(token="tok-abcdefgh", port=0, viewer_timeout_s=7, cull_idle_timeout_s=30, cull_interval_s=5,
                        pool_size=2, store=StoreConfig(uri=f"lmdb://{tmp_path}/a", library="lib")).resolved()  # fmt: skip
    assert opts.port > 0 and opts.notebook is not None and opts.notebook.name == "voila_dashboard.ipynb"
    assert opts.config_dir is not None and (opts.config_dir / "voila.json").is_file()
    cmd = voila_command(opts)
    assert "tok-abcdefgh" not in " ".join(cmd) and "--Voila.ip=127.0.0.1" in cmd
    assert "--MappingKernelManager.cull_idle_timeout=30" in cmd and "--pool_size=2" in cmd
    env = voila_env(opts, {"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_TOKEN"] == "tok-abcdefgh" and env["QUANTKIT_VIEWER_TIMEOUT"] == "7.0"
    assert env["JUPYTER_CONFIG_PATH"].split(":")[0] == str(opts.config_dir)
    assert env["QUANTKIT_ARCTIC_URI"] == f"lmdb://{tmp_path}/a" and env["QUANTKIT_LIBRARY"] == "lib"
    assert "JUPYTER_TOKEN" not in voila_env(ServeOptions(), {"JUPYTER_TOKEN": "inherited-token"})


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quantkit")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser.parse_args(argv)


def test_serve_command_refuses_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    """`quantkit serve --ip 0.0.0.0` without a token raises ExposureError before any process starts."""
    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    port = free_port()
    args = _parse(["serve", "--ip", "0.0.0.0", "--port", str(port)])
    with pytest.raises(ExposureError):
        args.func(args)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens
    args = _parse(["serve", "--port", "0", "--viewer-timeout", "5", "--pool", "1", "--store", "lmdb:///tmp/x"])
    assert (args.port, args.viewer_timeout, args.pool, args.store, args.ip) == (0, 5.0, 1, "lmdb:///tmp/x", "127.0.0.1")
    with pytest.raises(SystemExit):
        _parse(["serve", "--viewer-timeout", "-1"])


@pytest.mark.parametrize(
    ("frame", "ok"),
    [
        (None, False),
        (b"", False),
        ((2**60).to_bytes(8, "little") + b"\xff" * 64, False),
        ((6).to_bytes(8, "little") + b"\x00" * 8, False),
    ],
)
def test_malformed_websocket_frames_are_recognised(frame: Any, ok: bool) -> None:
    """Frames claiming absurd part counts or offsets outside the frame are not well-formed v1 messages."""
    assert serve_mod._well_formed_v1(frame) is ok


def test_a_real_v1_frame_is_well_formed() -> None:
    """A frame made by jupyter_server's own v1 serializer passes the check."""
    import json

    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    msg = {"header": {"msg_type": "comm_msg"}, "parent_header": {}, "metadata": {}, "content": {"data": {}}}
    frame = serialize_msg_to_ws_v1(msg, "shell", pack=lambda o: json.dumps(o).encode())
    assert serve_mod._well_formed_v1(frame)
    assert not serve_mod._well_formed_v1(frame[:-3])  # truncated: the last part runs past the end
