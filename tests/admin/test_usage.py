"""``gemini-interactions-admin usage``: totals per person and per day from the store, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from server.core import Cost, Settings, Store, Usage, UsageRecord

ADMIN = [sys.executable, "-c", "from server.admin.cli import main; main()"]
NOW = datetime.now(UTC)


def _admin(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GEMINI_INTERACTIONS_")}
    environment |= {"GEMINI_INTERACTIONS_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [*ADMIN, *args], capture_output=True, text=True, timeout=60, env=environment, check=False
    )


async def _seed(data_dir: Path) -> None:
    store = await Store.open(Settings(data_dir=data_dir).resolved_database_url())
    yesterday = NOW - timedelta(days=1) if NOW.day > 1 else NOW
    rows = [
        ("v1_a", "token:alice", "answer", "0.012", NOW),
        ("v1_b", "token:alice", "research", "2.50", yesterday),
        ("v1_c", "slack:T1:U2", "answer", None, NOW),
        ("v1_d", None, "image", "0.07", NOW),
    ]
    try:
        for iid, owner, kind, usd, at in rows:
            await store.add_usage(
                UsageRecord(
                    interaction_id=iid,
                    kind=kind,  # type: ignore[arg-type]  # the literal kinds, from the table above
                    usage=Usage(input_tokens=1000, output_tokens=200, thought_tokens=50),
                    cost=Cost(None if usd is None else Decimal(usd), "test"),
                    at=at,
                    model="gemini-3.8-flash",
                    owner=owner,
                    source="slack" if owner and owner.startswith("slack") else "mcp",
                )
            )
    finally:
        await store.close()


@pytest.mark.anyio
async def test_usage_prints_people_days_and_the_budget(tmp_path: Path) -> None:
    await _seed(tmp_path)
    done = _admin(tmp_path, "usage", GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD="50")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Per person" in out and "Per day" in out and "not Google's bill" in out
    alice = next(line for line in out.splitlines() if line.startswith("token:alice"))
    assert alice.split() == ["token:alice", "2", "1", "2,000", "500", "$2.51", "0"]
    assert next(line for line in out.splitlines() if line.startswith("slack:T1:U2")).split()[-2:] == [
        "$0.00",
        "1",
    ]
    assert any(line.startswith("(local)") for line in out.splitlines())
    assert "of the $50.00 monthly budget" in out

    as_json = json.loads(_admin(tmp_path, "usage", "--json", "--source", "mcp").stdout)
    assert [p["owner"] for p in as_json["per_person"]] == ["token:alice", None]
    assert as_json["per_person"][0]["estimated_cost_usd"] == "2.512"
    assert sum(d["calls"] for d in as_json["per_day"]) == 3


def test_bad_periods_are_refused_with_what_to_type(tmp_path: Path) -> None:
    done = _admin(tmp_path, "usage", "--month", "December")
    assert done.returncode == 2 and "--month must look like 2026-11" in done.stderr
    empty = _admin(tmp_path, "usage", "--days", "7")
    assert empty.returncode == 0 and "Per person: none" in empty.stdout
