"""Fixtures of the fault tests: the session's moto S3 server (its own process) and fresh buckets."""

from __future__ import annotations

from _support.s3 import s3_server, s3_uri  # noqa: F401  (pytest fixtures)
