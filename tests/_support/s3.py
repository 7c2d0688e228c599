"""A real S3 API endpoint for tests: moto's server in its own process, buckets made with boto3.

moto runs as ``python -m moto.server -H 127.0.0.1 -p PORT`` in a **separate process** (an
in-process ``ThreadedMotoServer`` hangs ArcticDB, see the ArcticDB notes). One server per test
session; each test gets a fresh bucket, so stores never share state.

Use from a conftest::

    from _support.s3 import s3_server, s3_uri  # noqa: F401  (fixtures)

``s3_server`` (session): the running :class:`MotoServer`. ``s3_uri`` (function): the ArcticDB URI
of a new empty bucket, ``s3://127.0.0.1:<bucket>?access=..&secret=..&port=..``.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Iterator

import pytest

from _support.waiting import free_port

__all__ = ["ACCESS", "MotoServer", "SECRET", "s3_server", "s3_uri"]

ACCESS = "quantkit"
SECRET = "quantkit-secret"
_counter = itertools.count()


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1:<free port> in a child process."""

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.port = free_port()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto.server exited with {self.proc.returncode} before listening")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto.server did not listen on port {self.port} within {startup_timeout} s")
                time.sleep(0.05)
        import boto3

        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def new_bucket(self, prefix: str = "qk") -> str:
        """Create an empty bucket; returns its name."""
        name = f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
        self.client.create_bucket(Bucket=name)
        return name

    def uri(self, bucket: str) -> str:
        """ArcticDB URI of ``bucket`` on this server."""
        return f"s3://127.0.0.1:{bucket}?access={ACCESS}&secret={SECRET}&port={self.port}"

    def stop(self) -> None:
        """Terminate the server process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """A moto S3 server for the whole session (its own process)."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_uri(s3_server: MotoServer) -> str:
    """ArcticDB URI of a fresh, empty bucket on the session's moto server."""
    return s3_server.uri(s3_server.new_bucket())
