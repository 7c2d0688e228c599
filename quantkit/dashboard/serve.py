"""Serve the read-only dashboard with Voila: options, the exposure guard, and a supervised Voila process.

``quantkit serve`` (see :mod:`quantkit.dashboard.commands`) calls :func:`serve`. The
same rules hold for a plain ``voila`` command run with
``JUPYTER_CONFIG_PATH=<repo>/jupyter_config``, because ``jupyter_config/voila.json``
names :class:`GuardedIdentityProvider`:

* loopback (``127.0.0.1``) by default;
* binding to anything else needs a token or a password, otherwise the server refuses
  to start with a one-line error and a non-zero exit (:class:`ExposureError`);
* sources stripped, no tracebacks, idle kernels culled (``voila.json``).

Voila ignores SIGTERM for minutes while kernels are alive and its kernels run in
sessions of their own, so :func:`stop_voila` terminates the server's process group,
falls back to SIGKILL, then ends the kernels it had started.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from quantkit._files import find_checkout
from quantkit.config import StoreConfig
from quantkit.errors import ConfigError

__all__ = [
    "DEFAULT_NOTEBOOK",
    "DEFAULT_PORT",
    "ExposureError",
    "GuardedIdentityProvider",
    "HardenedKernelWebsocketConnection",
    "V1_PROTOCOL",
    "ServeOptions",
    "check_exposure",
    "is_loopback",
    "kernel_pids",
    "serve",
    "stop_voila",
    "voila_command",
    "voila_env",
]

log = logging.getLogger("quantkit.dashboard")

#: The notebook served by ``quantkit serve``, relative to the repository.
DEFAULT_NOTEBOOK = Path("notebooks") / "voila_dashboard.ipynb"
#: Voila's port unless told otherwise.
DEFAULT_PORT = 8866
#: The kernel websocket subprotocol of current Jupyter front ends (Voila's page uses it).
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
_MAX_V1_PARTS = 4 + 64  # header, parent header, metadata, content + up to 64 buffers


class ExposureError(ConfigError):
    """The server would listen beyond loopback with no token and no password."""

    def __init__(self, ip: str) -> None:
        super().__init__(
            "ip", ip,
            "refusing to serve beyond loopback without authentication: pass --token (or set JUPYTER_TOKEN) "
            "or a password, or bind to 127.0.0.1",
        )  # fmt: skip


def is_loopback(host: str) -> bool:
    """True if ``host`` only reaches this machine (``127.0.0.0/8``, ``::1``, ``localhost``).

    ``""``, ``0.0.0.0`` and ``::`` (all interfaces) are not loopback. A host name counts as
    loopback only if every address it resolves to is; a name that does not resolve does not.
    """
    h = host.strip().strip("[]").rstrip(".").lower()
    if h in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    if not h:
        return False
    try:
        return ipaddress.ip_address(h.split("%", 1)[0]).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(h, None)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(str(a).split("%", 1)[0]).is_loopback for a in addrs)


def check_exposure(ip: str, *, token: str | None = None, hashed_password: str | None = None) -> None:
    """Refuse to listen on ``ip`` beyond loopback without a token or a password.

    Raises:
        ExposureError: ``ip`` is not loopback and neither ``token`` nor ``hashed_password`` is set.
    """
    if not is_loopback(ip) and not (token or hashed_password):
        raise ExposureError(ip)


class GuardedIdentityProvider(PasswordIdentityProvider):
    """Jupyter's password/token identity provider that refuses unauthenticated exposure.

    Named in ``jupyter_config/voila.json`` (``Voila.identity_provider_class``) and in
    ``jupyter_server_config.py``, so a plain ``voila`` or ``jupyter lab`` run with
    ``JUPYTER_CONFIG_PATH=<repo>/jupyter_config`` gets the same rule as ``quantkit serve``.

    Voila passes ``token=""`` when no ``--token`` is given, silently ignoring
    ``JUPYTER_TOKEN``; here ``JUPYTER_TOKEN`` is honoured in that case, and then removed
    from the server's environment so the viewers' kernels do not inherit it.
    """

    def __init__(self, **kwargs: Any) -> None:
        parent = kwargs.get("parent")
        voila = type(parent).__name__ == "Voila"
        env_token = os.environ.get("JUPYTER_TOKEN", "")
        if voila and not kwargs.get("token") and env_token:
            kwargs["token"] = env_token
        super().__init__(**kwargs)
        token = self.token  # resolve the default now (it may read JUPYTER_TOKEN)
        if voila:
            os.environ.pop("JUPYTER_TOKEN", None)
        ip = str(getattr(parent, "ip", "127.0.0.1"))
        try:
            check_exposure(ip, token=token, hashed_password=self.hashed_password)
        except ExposureError as exc:
            conn = getattr(parent, "connection_dir", "")
            if voila and conn and Path(conn).name.startswith("voila_"):
                shutil.rmtree(conn, ignore_errors=True)
            raise SystemExit(f"quantkit: {exc}") from None


def _well_formed_v1(frame: object) -> bool:
    """True if ``frame`` is a plausible v1 kernel websocket message (bounded offsets, all inside the frame)."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        return False
    data = bytes(frame)
    if len(data) < 8:
        return False
    n = int.from_bytes(data[:8], "little")
    if not 2 + 4 <= n <= 2 + _MAX_V1_PARTS or 8 * (n + 1) > len(data):
        return False
    offsets = [int.from_bytes(data[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(n)]
    return offsets[0] == 8 * (n + 1) and all(a <= b for a, b in zip(offsets, offsets[1:])) and offsets[-1] <= len(data)


class HardenedKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The kernel websocket of a Voila page, closed to malformed and legacy-protocol clients.

    Named in ``jupyter_config/voila.json`` (``Voila.kernel_websocket_connection_class``).
    Two ways a viewer could otherwise hang the whole Voila server (measured with voila
    0.5.13 / jupyter_server 2.x: the server spins at full CPU and grows by ~25 MB/s):

    * a client that does not negotiate the ``v1.kernel.websocket.jupyter.org`` subprotocol
      gets legacy binary frames for messages with buffers (every chart update), and Voila's
      ``read_header_from_binary_message`` reads their first 8 bytes as a v1 offset count;
    * a v1 frame whose first 8 bytes claim billions of offsets makes jupyter_server's
      ``deserialize_msg_from_ws_v1`` build a list that large.

    So: a client without the v1 subprotocol is disconnected and never sent anything, and an
    incoming frame is passed on only if its offsets are bounded and inside the frame.
    Voila's own page negotiates v1, so viewers see no difference.
    """

    dropped = 0

    @property
    def write_message(self) -> Callable[..., Any]:
        """The handler's writer for v1 clients; a no-op for anyone else."""
        if self.subprotocol != V1_PROTOCOL:
            return _drop_message
        return self.websocket_handler.write_message  # type: ignore[no-any-return]

    def connect(self) -> Any:
        """Connect as usual, then close at once if the client did not negotiate v1."""
        result = super().connect()
        if self.subprotocol != V1_PROTOCOL:
            log.warning("kernel websocket without the %s subprotocol: closed", V1_PROTOCOL)
            self.websocket_handler.close(4000, "the v1.kernel.websocket.jupyter.org subprotocol is required")
        return result

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        """Pass a well-formed v1 frame on; drop anything else (counted, logged at most 20 times)."""
        if self.subprotocol != V1_PROTOCOL or not _well_formed_v1(incoming_msg):
            type(self).dropped += 1
            if type(self).dropped <= 20:
                log.warning("dropped a malformed kernel websocket frame (%s)", type(incoming_msg).__name__)
            return
        try:
            super().handle_incoming_message(incoming_msg)
        except Exception as exc:  # noqa: BLE001 - a bad frame must never reach tornado's error path
            type(self).dropped += 1
            log.warning("dropped a kernel websocket frame that failed to decode: %s", type(exc).__name__)


def _drop_message(*args: Any, **kwargs: Any) -> None:
    return None


# ---------------------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ServeOptions:
    """How to serve the read-only dashboard.

    Attributes:
        notebook: the notebook to serve (default ``<repo>/notebooks/voila_dashboard.ipynb``).
        config_dir: the Jupyter config folder put first on ``JUPYTER_CONFIG_PATH`` (default ``<repo>/jupyter_config``).
        ip: address to listen on (default ``127.0.0.1``); beyond loopback needs ``token`` or ``hashed_password``.
        port: TCP port (default 8866; 0 picks a free one).
        token: access token (passed to Voila through ``JUPYTER_TOKEN``, not the command line).
        hashed_password: a ``jupyter_server.auth.passwd()`` hash (``argon2:...``).
        store: the store the page reads (``None``: the server's ``QUANTKIT_ARCTIC_URI``/``QUANTKIT_LIBRARY``).
        viewer_timeout_s: seconds without a browser heartbeat before a page stops publishing
            (``None``: ``QUANTKIT_VIEWER_TIMEOUT`` or 15).
        cull_idle_timeout_s, cull_interval_s: override ``voila.json``'s culler (seconds; ``None`` keeps it).
        pool_size: pre-started kernels running the notebook ahead of requests (0 = none, the default).
        extra_args: more Voila arguments, appended as given.
    """

    notebook: Path | None = None
    config_dir: Path | None = None
    ip: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    hashed_password: str | None = None
    store: StoreConfig | None = None
    viewer_timeout_s: float | None = None
    cull_idle_timeout_s: float | None = None
    cull_interval_s: float | None = None
    pool_size: int = 0
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not 0 <= int(self.port) <= 65535:
            raise ConfigError("port", self.port, "must be between 0 and 65535")
        for name in ("viewer_timeout_s", "cull_idle_timeout_s", "cull_interval_s"):
            v = getattr(self, name)
            if v is not None and not float(v) > 0:
                raise ConfigError(name, v, "must be > 0 seconds")
        if not 0 <= int(self.pool_size) <= 32:
            raise ConfigError("pool_size", self.pool_size, "must be between 0 and 32")
        if self.token is not None and (len(self.token) < 8 or any(c.isspace() for c in self.token)):
            raise ConfigError("token", "***", "must be at least 8 characters, without spaces")

    def resolved(self) -> "ServeOptions":
        """A copy with ``notebook``, ``config_dir`` and a free ``port`` filled in.

        Raises:
            ConfigError: no checkout with ``notebooks/`` and ``jupyter_config/`` was found, or the notebook is missing.
        """
        repo = find_checkout()
        nb = self.notebook or (repo / DEFAULT_NOTEBOOK if repo else None)
        cfg = self.config_dir or (repo / "jupyter_config" if repo else None)
        if nb is None or cfg is None:
            raise ConfigError("cwd", str(Path.cwd()), "run from the quantkit checkout (needs notebooks/ and jupyter_config/)")
        if not Path(nb).is_file():
            raise ConfigError("notebook", str(nb), "no such notebook")
        port = self.port or _free_port(self.ip)
        return ServeOptions(**{**self.__dict__, "notebook": Path(nb).resolve(), "config_dir": Path(cfg).resolve(),
                               "port": port})  # fmt: skip

    @property
    def url(self) -> str:
        """The page's URL (without the token)."""
        host = self.ip if self.ip not in ("", "0.0.0.0", "::") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"


def _free_port(ip: str) -> int:
    host = "127.0.0.1" if ip in ("", "0.0.0.0", "localhost") else ip
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def voila_command(options: ServeOptions, *, python: str | None = None) -> list[str]:
    """The Voila command line for resolved ``options`` (no secret on it: the token goes through the environment)."""
    nb = options.notebook
    if nb is None:
        raise ConfigError("notebook", None, "call ServeOptions.resolved() first")
    cmd = [python or sys.executable, "-m", "voila", nb.name, "--no-browser", f"--Voila.ip={options.ip}",
           f"--port={options.port}", "--Voila.port_retries=0"]  # fmt: skip
    if options.hashed_password:
        cmd.append(f"--PasswordIdentityProvider.hashed_password={options.hashed_password}")
    if options.cull_idle_timeout_s is not None:
        cmd.append(f"--MappingKernelManager.cull_idle_timeout={int(round(options.cull_idle_timeout_s))}")
    if options.cull_interval_s is not None:
        cmd.append(f"--MappingKernelManager.cull_interval={max(1, int(round(options.cull_interval_s)))}")
    if options.pool_size:
        cmd += ["--preheat_kernel=True", f"--pool_size={int(options.pool_size)}"]
    cmd += list(options.extra_args)
    return cmd


def voila_env(options: ServeOptions, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the Voila process (inherited by its kernels, except ``JUPYTER_TOKEN``)."""
    env = dict(os.environ if base is None else base)
    if options.config_dir is not None:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(options.config_dir), env.get("JUPYTER_CONFIG_PATH")]))
    if options.store is not None:
        env["QUANTKIT_ARCTIC_URI"] = options.store.uri
        env["QUANTKIT_LIBRARY"] = options.store.library
    if options.viewer_timeout_s is not None:
        env["QUANTKIT_VIEWER_TIMEOUT"] = repr(float(options.viewer_timeout_s))
    if options.token:
        env["JUPYTER_TOKEN"] = options.token
    else:
        env.pop("JUPYTER_TOKEN", None)
    return env


# ---------------------------------------------------------------------------------------------- processes
def kernel_pids(server_pid: int) -> list[int]:
    """PIDs of the kernels a Voila/Jupyter server started (its ``ipykernel`` children; Linux ``/proc``)."""
    out: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return out
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != server_pid:
                continue
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue
        if b"ipykernel" in cmd:
            out.append(int(d.name))
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_voila(proc: "subprocess.Popen[Any]", *, grace_s: float = 5.0) -> int | None:
    """Stop a Voila server started with ``start_new_session=True``, and every kernel it started.

    SIGTERM to the server's process group, SIGKILL after ``grace_s`` seconds, then
    SIGTERM/SIGKILL to the kernels that outlived it. Returns the server's exit code
    (``None`` if it had to be killed).
    """
    kernels = kernel_pids(proc.pid)
    code: int | None = None
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        code = proc.returncode
    kernels = sorted(set(kernels) | set(kernel_pids(proc.pid)))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = [k for k in kernels if _alive(k)]
        for k in live:
            _signal_group(k, sig)
        deadline = time.monotonic() + 2.0
        while live and time.monotonic() < deadline:
            live = [k for k in live if _alive(k)]
            time.sleep(0.05)
        if not live:
            break
    return code


def serve(
    options: ServeOptions,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    ready_timeout_s: float = 60.0,
) -> int:
    """Run Voila on the read-only dashboard until interrupted; returns Voila's exit code.

    Args:
        options: what to serve (resolved here).
        on_ready: called with the page URL once Voila answers (default: print it).
        stop: set it to stop the server (default: SIGINT/SIGTERM of this process stop it).
        ready_timeout_s: seconds to wait for Voila to answer before giving up.

    Raises:
        ExposureError: the address is beyond loopback and there is neither a token nor a password.
        ConfigError: no notebook or config folder, or Voila exited before answering.
    """
    opts = options.resolved()
    check_exposure(opts.ip, token=opts.token, hashed_password=opts.hashed_password)
    assert opts.notebook is not None
    proc = subprocess.Popen(voila_command(opts), env=voila_env(opts), cwd=opts.notebook.parent, start_new_session=True)
    stop = stop or threading.Event()
    handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        _wait_ready(proc, opts, ready_timeout_s, stop)
        shown = opts.url + (f"?token={opts.token}" if opts.token else "")
        (on_ready or (lambda url: print(f"quantkit serve: the read-only dashboard is on {url}", flush=True)))(shown)
        while not stop.wait(0.5):
            if proc.poll() is not None:
                break
    finally:
        code = stop_voila(proc)
        for sig, h in handlers.items():
            signal.signal(sig, h)
    return 0 if code is None or stop.is_set() else int(code)


def _wait_ready(proc: "subprocess.Popen[Any]", opts: ServeOptions, timeout_s: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + timeout_s
    host = "127.0.0.1" if opts.ip in ("", "0.0.0.0", "localhost") else opts.ip
    while not stop.is_set():
        if proc.poll() is not None:
            raise ConfigError("voila", proc.returncode, "the Voila server exited before it was ready (see its log above)")
        try:
            with socket.create_connection((host.strip("[]"), opts.port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ConfigError("voila", "timeout", f"no answer on {opts.url} within {timeout_s:.0f} s") from None
            time.sleep(0.2)
