"""The one symbol grammar (quantkit.symbols) and the layers that use it agree on every name."""

from __future__ import annotations

import pytest

from quantkit.alerts.monitor import _pair as monitor_pair
from quantkit.config import FeedConfig
from quantkit.dashboard.live.params import LiveParams
from quantkit.dashboard.readonly import _parse_pair as readonly_pair
from quantkit.datafiles._io import guess_symbol
from quantkit.errors import ConfigError, DashboardError, ReportParameterError
from quantkit.reports import PairReportParameters
from quantkit.store._frames import check_symbol as store_check
from quantkit.symbols import (
    check_symbol,
    is_symbol,
    parse_pair,
    parse_symbol,
    parse_symbols,
    perpetual_name,
    spot_name,
    stored_name,
)

GOOD = {
    "btcusdt": "BTCUSDT",
    " BTCUSDT_PERP ": "BTCUSDT_PERP",
    "BTCUSD_PERP": "BTCUSD_PERP",
    "btcusdt_250627": "BTCUSDT_250627",
    "BTCUSDT@aggTrade": "BTCUSDT@aggTrade",
    "synausdt": "SYNAUSDT",
}
BAD = ["", "B", "BTC-USDT", "BTCUSDT_SPOT", "BTC USDT", "_qk.records.x", "BTCUSDT_PERP_PERP", "BTCUSDT@agg-trade", 42]


@pytest.mark.parametrize(("raw", "name"), list(GOOD.items()))
def test_valid_names_normalise_the_same_everywhere(raw: str, name: str) -> None:
    """Grammar, store and report/alert/dashboard pair parsers accept a valid name and normalise it alike."""
    assert check_symbol(raw) == store_check(raw) == name
    assert is_symbol(raw)
    if "@" not in name:
        other = "ETHUSDT" if name != "ETHUSDT" else "BTCUSDT"
        pair = f"{raw.strip()}/{other}"
        assert parse_pair(pair) == monitor_pair(pair) == readonly_pair(pair) == (name, other)
        assert PairReportParameters(pair=pair).pair == f"{name}/{other}"
        assert LiveParams(y=name, x=other).y == name


@pytest.mark.parametrize("raw", BAD)
def test_invalid_names_are_refused_everywhere_with_the_value_named(raw: object) -> None:
    """Every layer refuses an invalid name with a one-line error naming it."""
    with pytest.raises(ValueError, match="symbol"):
        check_symbol(raw)
    with pytest.raises(ValueError):
        store_check(raw)
    assert not is_symbol(raw)
    if isinstance(raw, str) and raw:
        with pytest.raises(ValueError):
            parse_pair(f"{raw}/ETHUSDT")
        with pytest.raises(ConfigError):
            monitor_pair(f"{raw}/ETHUSDT")
        with pytest.raises(ReportParameterError):
            PairReportParameters(pair=f"{raw}/ETHUSDT")
        with pytest.raises(DashboardError):
            LiveParams(y=raw, x="ETHUSDT")


def test_spot_and_perpetual_names_of_one_coin() -> None:
    """A coin's spot and USD-M perpetual have two stored names and one exchange name."""
    assert perpetual_name("btcusdt") == "BTCUSDT_PERP" and spot_name("BTCUSDT_PERP") == "BTCUSDT"
    assert stored_name("BTCUSDT", "futures") == "BTCUSDT_PERP" and stored_name("BTCUSDT", "spot") == "BTCUSDT"
    assert stored_name("BTCUSD_PERP", "futures") == "BTCUSD_PERP"  # COIN-M: Binance's own name
    perp, coinm = parse_symbol("BTCUSDT_PERP"), parse_symbol("BTCUSD_PERP")
    assert (perp.exchange_symbol, perp.market, perp.perpetual) == ("BTCUSDT", "futures", True)
    assert coinm.exchange_symbol == "BTCUSD_PERP"
    assert parse_symbol("BTCUSDT").market is None
    assert parse_symbols("btcusdt, BTCUSDT_PERP,,btcusdt") == ("BTCUSDT", "BTCUSDT_PERP")
    with pytest.raises(ValueError, match="differ"):
        parse_pair("BTCUSDT/btcusdt")


def test_file_names_and_feed_names_follow_the_grammar() -> None:
    """Import guesses names by the grammar; the feed takes exchange names and explains the perpetual's."""
    assert guess_symbol("BTCUSD_PERP-trades-2024-01-01.zip") == "BTCUSD_PERP"
    assert guess_symbol("um_BTCUSDT-trades-2024-08-08.csv.gz") == "BTCUSDT"
    assert FeedConfig.for_source("binance-futures", ["btcusdt"]).symbols == ("BTCUSDT",)
    with pytest.raises(ConfigError, match="BTCUSDT on the futures source"):
        FeedConfig.for_source("binance-futures", ["BTCUSDT_PERP"])
