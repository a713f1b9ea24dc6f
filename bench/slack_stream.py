"""Streamed Slack answers: how soon Gemini's first text shows in Slack, and how many Slack calls an answer costs.

    uv run python bench/slack_stream.py [--conversations 20] [--write-seconds 5]

N people ask the bot at once, each in their own DM; the emulator writes every answer over ``--write-seconds``
(its text deltas spread evenly, ``[emulator:write_seconds=…]``). The bot (the real app, its real HTTP route
driven with signed requests, SQLite in a temporary folder) streams each answer with chat.startStream /
appendStream / stopStream into the fake Slack of the tests; the emulator runs in a thread of this process, so
both record times on one monotonic clock.

First-visible latency: from Gemini's first text (the streamed create reaching the emulator, which writes its
first delta at once: no ``text_delay``) to the fake Slack answering the ``chat.startStream`` that shows it.
Prints one JSON object: that latency's p50 / p99 / max in ms (target p99 ≤ 1,000 ms), Slack calls per answer
(stream calls, and all calls), and the most calls per second of any answer while it was written (target ≤ 2:
one call per 0.5 s). Every answer must arrive whole (``lost`` 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from server.emulator import EmulatorConfig, run_emulator_in_thread
from slack_bot.http import http_app
from tests.fakes.slack_api import Call, FakeSlack
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, running_bot, slack_config, user_message

STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _stream_ts(call: Call) -> str:
    if call.method == "chat.startStream":
        return str(call.response["ts"]) if isinstance(call.response, dict) else ""
    return str(call.args.get("ts") or "")


async def run(conversations: int, write_seconds: float, timeout: float) -> dict[str, Any]:
    emulator = run_emulator_in_thread(EmulatorConfig(), host="127.0.0.1", port=0)
    try:
        with tempfile.TemporaryDirectory(prefix="slack-stream-") as data:
            async with FakeSlack() as slack:
                settings = make_settings(Path(data), emulator.url)
                config = slack_config(slack, stream_answers=True, max_turns=max(8, conversations))
                async with running_bot(settings, config) as bot:
                    transport = httpx.ASGITransport(app=http_app(bot))
                    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
                        return await _measure(
                            SignedSlack(http, slack),
                            slack,
                            bot,
                            emulator,
                            conversations,
                            write_seconds,
                            timeout,
                        )
    finally:
        emulator.stop()


async def _measure(
    signed: SignedSlack,
    slack: FakeSlack,
    bot: Any,
    emulator: Any,
    conversations: int,
    write_seconds: float,
    timeout: float,
) -> dict[str, Any]:
    body = "Tell me about streaming answers, one careful sentence after another. " * 14
    events = []
    for n in range(conversations):
        channel = f"D{n + 100}"
        slack.add_channel(channel, kind="im")
        events.append(
            user_message(f"q-{n} {body}[emulator:write_seconds={write_seconds:g}]", channel=channel)
        )
    started = time.monotonic()
    await asyncio.gather(*(signed.event(event) for event in events))
    with contextlib.suppress(TimeoutError):
        await slack.wait_for("chat.stopStream", conversations, timeout=timeout)
    wall = time.monotonic() - started

    latencies: list[float] = []
    stream_calls: list[int] = []
    all_calls: list[int] = []
    rates: list[float] = []
    lost = 0
    for event in events:
        channel = event["channel"]
        interaction_id = await bot.store.get_thread("T1", channel, event["ts"])
        calls = [
            c for c in slack.calls if c.ok and (c.args.get("channel") or c.args.get("channel_id")) == channel
        ]
        streamed = [c for c in calls if c.method in STREAM_METHODS]
        stops = [c for c in streamed if c.method == "chat.stopStream"]
        if not interaction_id or not stops:
            lost += 1
            continue
        message = slack.message(channel, _stream_ts(stops[0]))
        tag = event["text"].split()[0] + " "  # q-N
        if tag not in message["text"] or "first turn" not in message["text"]:
            lost += 1
            continue
        creates = [r for r in emulator.emulator.stats.upstream_requests(interaction_id) if r.kind == "create"]
        first_text = creates[0].started_monotonic
        latencies.append((streamed[0].at - first_text) * 1000)
        stream_calls.append(len(streamed))
        all_calls.append(len(calls))
        span = streamed[-1].at - streamed[0].at
        rates.append((len(streamed) - 1) / span if span > 0 else 0.0)
    if not latencies:
        return {"conversations": conversations, "lost": lost, "error": "no answer streamed"}
    return {
        "benchmark": "slack_stream",
        "conversations": conversations,
        "write_seconds": write_seconds,
        "first_visible_ms_p50": round(statistics.median(latencies), 1),
        "first_visible_ms_p99": round(_percentile(latencies, 99), 1),
        "first_visible_ms_max": round(max(latencies), 1),
        "stream_calls_per_answer_mean": round(statistics.mean(stream_calls), 1),
        "stream_calls_per_answer_max": max(stream_calls),
        "slack_calls_per_answer_mean": round(statistics.mean(all_calls), 1),
        "calls_per_second_max": round(max(rates), 2),
        "lost": lost,
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--write-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every answer")
    args = parser.parse_args()
    result = asyncio.run(run(args.conversations, args.write_seconds, args.timeout))
    print(json.dumps(result))
    sys.exit(0 if result.get("lost") == 0 else 1)


if __name__ == "__main__":
    main()
