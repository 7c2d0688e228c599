"""A scheduled batch end to end: the scheduler (fake clock) runs real reports on two warm kernels."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from quantkit.reports import Scheduler
from quantkit.reports.schedule import parse_schedule


def test_scheduled_batch_runs_real_reports(tmp_path: Path, report_store: tuple[str, str]) -> None:
    """At its fire time a job runs one report per pair on 2 workers; an invalid pair is indexed as failed."""
    uri, library = report_store
    schedule = parse_schedule({
        "out": str(tmp_path / "out"),
        "workers": 2,
        "defaults": {"store": uri, "library": library, "window": 60},
        "jobs": [{"name": "daily", "cron": "0 6 * * *", "lookback": "1D",
                  "pairs": ["ETHUSDT/BTCUSDT", "SOLUSDT/ETHUSDT", "ADAUSDT/NOPEUSDT"]}],
    })
    now = [dt.datetime(2025, 6, 15, 5, 0, tzinfo=dt.timezone.utc)]
    sched = Scheduler(schedule, clock=lambda: now[0])
    assert sched.run_pending() == []
    now[0] = dt.datetime(2025, 6, 15, 6, 1, tzinfo=dt.timezone.utc)
    (outcome,) = sched.run_pending()
    assert outcome.status == "ran" and outcome.due == dt.datetime(2025, 6, 15, 6, 0, tzinfo=dt.timezone.utc)
    status = {r.label.split()[0]: r.status for r in outcome.runs}
    assert status == {"ETHUSDT/BTCUSDT": "ok", "SOLUSDT/ETHUSDT": "ok", "ADAUSDT/NOPEUSDT": "failed"}
    ok = [r for r in outcome.runs if r.ok]
    assert all(r.parameters["start"] == "2025-06-14T06:00:00+00:00" and r.parameters["end"] == "2025-06-15T06:00:00+00:00"
               for r in ok)
    assert all(r.id.startswith("2025-06-15/") and r.job == "daily" for r in ok)
    assert all((schedule.out_dir / str(r.html)).exists() for r in ok)
    bad = next(r for r in outcome.runs if not r.ok)
    assert bad.error and bad.error["section"] == "parameters" and "NOPEUSDT" in bad.error["evalue"]
    index = json.loads((schedule.out_dir / "index.json").read_text())
    assert sorted(r["status"] for r in index["runs"]) == ["failed", "ok", "ok"]
    assert sched.run_pending() == []  # nothing more due at 06:01
