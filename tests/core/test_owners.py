"""Every interaction the core creates is recorded with its owner, every continuation hop included, and an owner
may continue only its own; the local user is not checked and never waits on the store for it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from server.core import Core, NotFound, Origin
from server.emulator import Emulator

pytestmark = pytest.mark.anyio

CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]
ALICE = Origin(source="mcp", owner="token:alice")
BOB = Origin(source="mcp", owner="oidc:https://idp.example.com#alice")  # another alice: another person
LOCAL = Origin(source="mcp")


async def test_every_hop_is_recorded_and_only_its_owner_continues(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        long = await core.ask("Tell me everything [emulator:hops=3]", caller=ALICE)
        image = await core.generate_image("a fox", caller=ALICE)
        records = [await core.store.interaction_owner(i) for i in long.hop_ids]
        image_record = await core.store.interaction_owner(image.answer.interaction_id)

        follow = await core.ask("And then?", previous_interaction_id=long.hop_ids[0], caller=ALICE)
        refined = await core.generate_image(
            "bluer", previous_interaction_id=image.answer.interaction_id, caller=ALICE
        )
        requests = emu.stats.requests_total
        refusals = []
        for previous in (long.hop_ids[0], long.interaction_id, image.answer.interaction_id, "v1_nobody"):
            with pytest.raises(NotFound) as refused:
                await core.ask("Go on", previous_interaction_id=previous, caller=BOB)
            refusals.append(str(refused.value).replace(previous, "<id>"))
        with pytest.raises(NotFound):
            await core.generate_image(
                "mine now", previous_interaction_id=image.answer.interaction_id, caller=BOB
            )
        refused_requests = emu.stats.requests_total - requests
        local = await core.ask("Mine too?", previous_interaction_id=long.interaction_id, caller=LOCAL)
        local_record = await core.store.interaction_owner(local.interaction_id)

    assert len(long.hop_ids) == 3 and long.interaction_id == long.hop_ids[-1]
    assert [(r.owner, r.kind) for r in records if r] == [("token:alice", "answer")] * 3
    assert image_record is not None and (image_record.owner, image_record.kind) == ("token:alice", "image")
    assert follow.text and refined.files
    assert len(set(refusals)) == 1  # another owner's id is answered exactly as an unknown one
    assert refused_requests == 0  # refused before Gemini is asked: nothing is spent on them
    # The local user (stdio) continues as before, and its ids are recorded without an owner.
    assert local.text and local_record is not None and local_record.owner is None


async def test_a_planned_jobs_run_is_its_owners_too(core_for: CoreFactory, emu: Emulator) -> None:
    from tests.core.test_research import wait_terminal
    from tests.core.test_research_plans import QUICK, wait_status

    async with core_for() as core:
        job = await core.research.start(f"Wind lidar {QUICK}", origin=ALICE, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval", viewer=ALICE)
        with pytest.raises(NotFound):
            await core.research.approve(job.interaction_id, viewer=BOB)
        await core.research.approve(job.interaction_id, viewer=ALICE)
        done = await wait_terminal(core, job.interaction_id, viewer=ALICE)
        assert done.run_id
        for iid in (job.interaction_id, done.run_id):
            assert (await core.ask("Summarise it", previous_interaction_id=iid, caller=ALICE)).text
            with pytest.raises(NotFound):
                await core.ask("Summarise it", previous_interaction_id=iid, caller=BOB)
        run = await core.store.interaction_owner(done.run_id)
    assert run is not None and (run.owner, run.kind) == ("token:alice", "research")
