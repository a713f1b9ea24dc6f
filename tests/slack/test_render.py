"""Rendering: splitting long markdown within Slack's limits, and the payloads we build from jobs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.domain import Origin, ResearchJob
from slack_bot.markdown import MARKDOWN_BUDGET, TEXT_LIMIT, markdown_message, plan_answer, split_markdown
from slack_bot.render import (
    CANCEL_ACTION,
    home_view,
    report_summary,
    research_message,
    status_detail,
    status_list,
    thread_link,
)

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})", re.MULTILINE)


def _fences_balanced(chunk: str) -> bool:
    """True when no code block is left open at the end (CommonMark: a fence closes only with the same
    character, at least as long, and no info string)."""
    open_marker = ""
    for line in chunk.split("\n"):
        match = re.match(r"^\s{0,3}(`{3,}|~{3,})(.*)$", line)
        if not match:
            continue
        marker, info = match.groups()
        if not open_marker:
            open_marker = marker
        elif marker[0] == open_marker[0] and len(marker) >= len(open_marker) and not info.strip():
            open_marker = ""
    return not open_marker


def _words(text: str) -> list[str]:
    return [w for w in text.split() if not FENCE.match(w)]


def test_short_text_is_one_chunk_unchanged() -> None:
    assert split_markdown("hello\n\nworld") == ["hello\n\nworld"]
    assert split_markdown("") == []


def test_splits_on_paragraphs_within_the_limit() -> None:
    paragraphs = [f"paragraph {i} " + "x" * 290 for i in range(100)]
    chunks = split_markdown("\n\n".join(paragraphs), 1000)
    assert all(len(c) <= 1000 for c in chunks)
    # No paragraph is cut in two: every chunk starts with the start of a paragraph.
    assert all(c.startswith("paragraph ") for c in chunks)
    assert _words("\n\n".join(chunks)) == _words("\n\n".join(paragraphs))


def test_a_long_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "```python\n" + "\n".join(f"print({i})" for i in range(400)) + "\n```"
    chunks = split_markdown("Intro\n\n" + code + "\n\nOutro", 1000)
    assert len(chunks) > 3
    assert all(len(c) <= 1000 and _fences_balanced(c) for c in chunks)
    code_chunks = [c for c in chunks if "print(" in c]
    assert all("```python\n" in c for c in code_chunks)
    assert chunks[-1].endswith("Outro")
    assert [w for w in _words("\n".join(chunks)) if w.startswith("print(")] == [
        f"print({i})" for i in range(400)
    ]


def test_an_unclosed_fence_is_closed() -> None:
    chunks = split_markdown("text\n\n```\n" + "line\n" * 500, 400)
    assert all(_fences_balanced(c) for c in chunks)


def test_a_single_huge_line_is_cut() -> None:
    chunks = split_markdown("y" * 2500, 1000)
    assert [len(c) for c in chunks] == [1000, 1000, 500]


_line = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r`~"),  # type: ignore[arg-type]  # hypothesis types the categories as Literals
        max_size=300,
    ),
    st.sampled_from(["", "```", "```python", "~~~", "    ```", "- item", "# Heading"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_line, max_size=200), st.integers(min_value=60, max_value=2000))
def test_split_markdown_properties(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    chunks = split_markdown(text, limit)
    assert all(len(c) <= limit for c in chunks)
    if len(chunks) > 1:  # a text that fits is passed through untouched
        assert all(_fences_balanced(c) for c in chunks)
    # Nothing is lost or reordered (fence lines may be added; whitespace may change).
    assert "".join(_words("\n".join(chunks))) == "".join(_words(text))


def test_plan_answer_inline_up_to_three_parts_then_a_file() -> None:
    short = plan_answer("hello")
    assert short.parts == ("hello",) and short.file_markdown is None
    three = plan_answer("\n\n".join("p" * 10_000 for _ in range(3)))
    assert len(three.parts) == 3
    long_text = "\n\n".join(f"para {i} " + "p" * 9_000 for i in range(4))
    long = plan_answer(long_text)
    assert long.parts == () and long.file_markdown == long_text
    assert long.intro is not None and len(long.intro) < MARKDOWN_BUDGET and "attached file" in long.intro


def test_markdown_message_respects_limits() -> None:
    payload = markdown_message("z" * 20_000)
    assert len(payload["text"]) <= TEXT_LIMIT
    assert sum(len(b["text"]) for b in payload["blocks"]) <= MARKDOWN_BUDGET
    assert payload["unfurl_links"] is False


def _job(status: str = "in_progress", **kw: object) -> ResearchJob:
    created = datetime.now(UTC) - timedelta(minutes=3, seconds=5)
    job = ResearchJob(
        interaction_id="v1_abc",
        prompt="TPUs <and> GPUs & more",
        agent="deep-research",
        origin=Origin(
            source="slack", owner="slack:T1:U1", team_id="T1", channel_id="C1", thread_ts="1.000100"
        ),
        status=status,
        created_at=created,
    )
    for key, value in kw.items():
        setattr(job, key, value)
    return job


def test_research_message_running_has_cancel_and_escaped_topic() -> None:
    payload = research_message(_job(progress="Reading " + "r" * 5000))
    assert len(payload["text"]) <= TEXT_LIMIT
    section = payload["blocks"][0]["text"]["text"]
    assert "TPUs &lt;and&gt; GPUs & more" in section and len(section) <= 3000
    assert section.startswith(":mag: <@U1> started research")  # the user of the owner slack:T1:U1
    assert "3m 05s" in section or "3m 06s" in section
    button = payload["blocks"][1]["elements"][0]
    assert button["action_id"] == CANCEL_ACTION and button["value"] == "v1_abc"


def test_research_message_finished_has_no_button() -> None:
    finished = _job("completed", finished_at=datetime.now(UTC))
    payload = research_message(finished)
    assert [b["type"] for b in payload["blocks"]] == ["section"]
    assert "completed" in payload["text"]


def test_report_summary_is_short_and_says_what_next_on_failure() -> None:
    report = "# Title\n\n" + "\n\n".join("Finding " + "f" * 800 for _ in range(40))
    summary = report_summary(_job("completed", finished_at=datetime.now(UTC)), report)
    assert len(summary) < 4000 and "Title" not in summary.split("\n")[0]
    assert f"{len(report):,} characters" in summary
    failed = report_summary(_job("timed_out", error="Gave up after 65 minutes."), "")
    assert "Gave up after 65 minutes." in failed and "narrower topic" in failed


def test_status_list_and_home_view() -> None:
    jobs = [_job(), _job("completed", interaction_id="v1_def", finished_at=datetime.now(UTC))]
    link = thread_link("https://fake.slack.test/", "C1", "1.000100")
    assert link == "https://fake.slack.test/archives/C1/p1000100"
    text = status_list(jobs, {"v1_abc": link, "v1_def": None})
    assert "v1_abc" in text and "v1_def" in text and link in text
    assert "no research runs" in status_list([], {})
    view = home_view(jobs, {"v1_abc": link})
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert any(link in (b.get("text") or {}).get("text", "") for b in view["blocks"])


def test_every_job_payload_neutralises_what_gemini_and_people_wrote() -> None:
    pings = "<!channel> <!here> <@U2> <!subteam^S1|@eng>"
    job = _job(prompt=f"topic {pings}", progress=f"Reading {pings}", error=f"Google said {pings}")
    ended = _job(
        "failed", prompt=f"topic {pings}", error=f"Google said {pings}", finished_at=datetime.now(UTC)
    )
    payloads = [
        research_message(job),
        status_detail(job, None),
        status_list([job], {}),
        home_view([job], {}),
        markdown_message(report_summary(ended, f"# {pings}\n\nFound {pings}.")),
    ]
    rendered = repr(payloads)
    assert not re.search(r"<(!|@U2)", rendered)  # <@U1>, who started the run, is ours
    assert rendered.count("&lt;!here&gt;") >= 6
