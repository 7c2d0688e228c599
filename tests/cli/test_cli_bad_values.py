"""Every sub-command answers every malformed value with one stderr line and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.cli import build_parser, main
from quantkit.store import TickStore

#: Valid required arguments of each sub-command, so that the value under test is the only thing wrong.
BASE: dict[str, list[str]] = {
    "import": ["x.csv"],
    "download": ["BTCUSDT", "--market", "spot", "--kind", "trades", "--start", "2024-01-01", "--end", "2024-01-02"],
    "bars": ["BTCUSDT"],
    "alerts": ["--pairs", "ETHUSDT/BTCUSDT"],
    "report": ["ETHUSDT/BTCUSDT", "--start", "2025-06-01", "--end", "2025-06-02"],
    "schedule": ["reports.toml"],
}
#: Near misses worth trying on every typed option, besides random text.
NEAR_MISSES = [
    "", " ", "-1", "0", "-0.5", "nan", "inf", "-inf", "1e999", "abc", "2026-02-30", "yesterday", "90x", "1.5.2",
    "99999", "65536", "btc-usdt", "ETH/", "/BTC", "A/A", "lmdb:/x", "s3:", "replay:", "kraken", "http//x", "0x10",
    "1_000", "\u0661", "\x00", "1,2", ",,", "2024-01-01T25:00", "12:00",
]  # fmt: skip


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _checked_actions() -> list[tuple[str, argparse.Action]]:
    """(command, action) for every option or positional whose values are validated (a type or choices)."""
    out = []
    for name, sp in sorted(_subparsers().items()):
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction) or action.dest == "verbose":
                continue
            if callable(action.type) or action.choices:
                out.append((name, action))
    return out


ACTIONS = _checked_actions()


def _rejects(action: argparse.Action, value: str) -> bool:
    if action.choices and value not in action.choices:
        return True
    if callable(action.type):
        conv: Callable[[str], Any] = action.type
        try:
            conv(value)
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            return True
    return False


def _argv(command: str, action: argparse.Action, value: str) -> list[str]:
    base = list(BASE.get(command, []))
    if action.option_strings:
        return [command, *base, f"{action.option_strings[-1]}={value}"]
    # a positional: replace the base's first positional (positionals come first in BASE)
    return [command, "--", value] if not base else [command, value, *base[1:]]


@st.composite
def bad_values(draw: st.DrawFn) -> tuple[str, argparse.Action, str]:
    command, action = draw(st.sampled_from(ACTIONS))
    value = draw(
        st.one_of(st.sampled_from(NEAR_MISSES), st.text(max_size=12)).filter(lambda v: _rejects(action, v))
    )
    return command, action, value


def test_every_sub_command_has_validated_options() -> None:
    """The test below covers every sub-command (each has at least one validated option)."""
    assert {c for c, _ in ACTIONS} == set(_subparsers())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(case=bad_values())
def test_malformed_values_get_one_line_and_exit_2(case: tuple[str, argparse.Action, str], capsys: pytest.CaptureFixture[str]) -> None:
    """A generated malformed value for any option of any sub-command: exit 2, one stderr line, no traceback."""
    command, action, value = case
    argv = _argv(command, action, value)
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("quantkit") and "Traceback" not in err, (argv, err)


@pytest.fixture(scope="module")
def candle_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding 1-minute candles of BTCUSDT only."""
    uri = f"lmdb://{tmp_path_factory.mktemp('cli') / 'db'}"
    idx = pd.date_range("2025-06-01", periods=120, freq="1min", tz="UTC", name="time")
    frame = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 2.0}, index=idx)
    TickStore(uri).write_candles("BTCUSDT", "1m", frame)
    return uri


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bars", "BTCUSDT", "--freq", "1s"], "1m"),  # finer than the stored candles
        (["bars", "BTCUSDT", "--freq", "90s"], "90s"),  # not a multiple of them
        (["bars", "NOPEUSDT"], "NOPEUSDT"),
        (["bars", "BTCUSDT", "--start", "2025-06-01T01:00", "--end", "2025-06-01T00:30"], "--start"),
        (["alerts", "--pairs", "ETHUSDT/BTCUSDT", "--library", "nolib"], "nolib"),
    ],
)
def test_values_the_data_cannot_serve_get_one_line_and_exit_1(
    argv: list[str], needle: str, candle_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Well-formed values the stored data cannot serve: exit 1 and one stderr line naming the problem."""
    assert main([*argv, "--store", candle_store]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["symbols"], ["bars", "BTCUSDT"], ["alerts", "--pairs", "ETHUSDT/BTCUSDT"],
                                     ["report", "ETHUSDT/BTCUSDT", "--start", "2025-06-01", "--end", "2025-06-02"]])
def test_read_only_commands_never_create_a_store(command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --store is an error naming it (exit 1, one line) and nothing is created there."""
    missing = tmp_path / "typo" / "db"
    assert main([*command, "--store", f"lmdb://{missing}"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(missing) in err
    assert not (tmp_path / "typo").exists()


def test_bars_prints_the_requested_window_start_inclusive_end_exclusive(candle_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`bars --start S --end E` prints exactly the bars opening in [S, E), not the last rows of everything."""
    assert main(["bars", "BTCUSDT", "--start", "2025-06-01T00:10", "--end", "2025-06-01T00:15", "--store", candle_store]) == 0
    rows = [ln.split()[0] + " " + ln.split()[1] for ln in capsys.readouterr().out.splitlines() if ln.startswith("2025")]
    assert rows == [f"2025-06-01 00:{m}:00+00:00" for m in range(10, 15)]
    assert main(["bars", "BTCUSDT", "--freq", "5m", "--start", "2025-06-01T00:07", "--store", candle_store]) == 0
    first = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("2025"))
    assert first.startswith("2025-06-01 00:10:00")  # the first whole bar opening at or after --start


def test_verbose_works_before_and_after_the_sub_command() -> None:
    """-v / -vv are accepted on either side of the sub-command."""
    parser = build_parser()
    assert parser.parse_args(["-v", "symbols"]).verbose == 1
    assert parser.parse_args(["symbols", "-vv"]).verbose == 2
    assert parser.parse_args(["bars", "BTCUSDT", "-v"]).verbose == 1
    assert parser.parse_args(["symbols"]).verbose == 0
