"""Owners in namespaces (migration 006) and the record of every interaction id with its owner."""

from __future__ import annotations

import pytest

from server.core import Origin
from server.core.errors import NotFound
from server.core.owners import ensure_own, record, unknown_interaction
from server.core.store import Store
from tests.store.helpers import make_job
from tests.support.legacy_store import LEGACY_RUNS, legacy_database

pytestmark = pytest.mark.anyio


async def test_migration_006_gives_old_owners_their_namespaces(store_url: str) -> None:
    await legacy_database(store_url)
    store = await Store.open(store_url)
    try:
        owners = {iid: (await store.get_job(iid)).origin.owner for iid in LEGACY_RUNS}
        recorded = {iid: await store.interaction_owner(iid) for iid in LEGACY_RUNS}
        single = await store.list_jobs(owner="token:_single", source="mcp")
        slack = await store.get_job("v1_legacy-slack-run")
    finally:
        await store.close()
    assert owners == {
        "v1_legacy-token-run": "token:_single",  # who the single token is now: still readable with it
        "v1_legacy-slack-run": "slack:T1:U1",
        "v1_legacy-local-run": None,
    }
    assert {iid: (r.owner, r.kind) for iid, r in recorded.items() if r} == {
        iid: (owner, "research") for iid, owner in owners.items()
    }
    assert [job.interaction_id for job in single] == ["v1_legacy-token-run"]
    assert slack is not None and slack.origin.slack_user == "U1"


async def test_ids_are_their_owners_alone(store: Store) -> None:
    alice = Origin(source="mcp", owner="token:alice")
    oidc_alice = Origin(source="mcp", owner="oidc:https://idp.example.com#alice")
    local = Origin(source="mcp")
    await record(store, ["v1_hop1", "v1_hop2", "v1_hop2"], "answer", alice)
    await record(store, ["v1_hop2"], "answer", oidc_alice)  # recorded already: the first owner keeps it
    await store.create_job(make_job("v1_run", owner="token:alice"))

    for iid in ("v1_hop1", "v1_hop2", "v1_run"):
        await ensure_own(store, iid, alice)
        await ensure_own(store, iid, local)  # the local user is not checked, as before owners
    for stranger, iid in [(oidc_alice, "v1_hop1"), (oidc_alice, "v1_run"), (alice, "v1_nobody")]:
        with pytest.raises(NotFound) as refused:
            await ensure_own(store, iid, stranger)
        assert str(refused.value) == str(unknown_interaction(iid))
    run = await store.interaction_owner("v1_run")
    assert run is not None and (run.owner, run.kind) == ("token:alice", "research")
