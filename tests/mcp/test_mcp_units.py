"""The small pure pieces behind the tools: report paging, the HTTP security rules, error mapping."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError

from server.core.domain import Origin, ResearchJob
from server.core.errors import AttachmentError, RateLimited
from server.mcp.access import bearer_access
from server.mcp.auth import InsecureBind, http_security, is_loopback
from server.mcp.errors import tool_errors
from server.mcp.results import status_page
from tests.support.identity import tokens_file


def _job(status: str = "completed") -> ResearchJob:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return ResearchJob(
        interaction_id="v1_abc",
        prompt="TPUs",
        agent="deep-research-preview-04-2026",
        origin=Origin(source="mcp"),
        status=status,
        created_at=start,
        finished_at=start + timedelta(seconds=90) if status != "in_progress" else None,
    )


@given(report=st.text(max_size=3000), max_chars=st.integers(min_value=500, max_value=1200))
def test_pages_follow_next_offset_back_to_the_whole_report(report: str, max_chars: int) -> None:
    job, pages, offset = _job(), [], 0
    for _ in range(len(report) // max_chars + 2):
        page = status_page(job, report, offset=offset, max_chars=max_chars)
        pages.append(page.report)
        assert page.total_chars == len(report) and page.elapsed_seconds == 90.0
        if page.next_offset is None:
            break
        assert f"call again with offset {page.next_offset}" in page.hint
        offset = page.next_offset
    assert "".join(pages) == report
    assert page.next_offset is None


def test_a_running_job_says_to_come_back_later() -> None:
    page = status_page(_job("in_progress"), "", offset=0, max_chars=8000)
    assert page.report == "" and page.next_offset is None and "Still running" in page.hint


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "::", "example.com"))


LONG_TOKEN = "t" * 32


def test_http_security_rules(tmp_path: Path) -> None:
    local = http_security("127.0.0.1", 8000, None)
    assert local.token_verifier is None and local.auth is None
    assert local.transport_security.enable_dns_rebinding_protection
    assert local.transport_security.allowed_hosts == [
        "127.0.0.1:8000",
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
    ]

    # A short token is the operator's business on loopback.
    guarded = http_security("127.0.0.1", 8000, bearer_access("tok"))
    assert guarded.token_verifier is not None
    # Bearer tokens advertise no authorization server: no resource URL, so no metadata document either.
    assert guarded.auth is not None and guarded.auth.resource_server_url is None

    with pytest.raises(InsecureBind, match="GEMINI_INTERACTIONS_MCP_TOKEN"):
        http_security("0.0.0.0", 8000, None)
    with pytest.raises(InsecureBind, match="at least 32 characters"):
        http_security("0.0.0.0", 8000, bearer_access("t" * 31))
    with pytest.raises(InsecureBind, match="at least 32 characters"):  # alongside a tokens file too
        http_security("0.0.0.0", 8000, bearer_access("t" * 31, tokens_file(tmp_path, alice="a" * 40)))
    assert http_security("0.0.0.0", 8000, bearer_access(None, tokens_file(tmp_path, alice="a"))).auth

    public = http_security("10.0.0.5", 9000, bearer_access(LONG_TOKEN), ["mcp.example.com:443"])
    assert public.transport_security.enable_dns_rebinding_protection
    assert public.transport_security.allowed_hosts == ["10.0.0.5:9000", "mcp.example.com:443"]
    assert "http://10.0.0.5:9000" in public.transport_security.allowed_origins

    ipv6 = http_security("::", 9000, bearer_access(LONG_TOKEN))
    assert ipv6.transport_security.allowed_hosts == ["[::]:9000"]


def test_our_errors_keep_their_message() -> None:
    with pytest.raises(ToolError, match=r"^notes.txt does not exist\. Check the path\.$"):
        with tool_errors("ask"):
            raise AttachmentError("notes.txt does not exist. Check the path.")
    with pytest.raises(ToolError, match="Retry after 3 s"):
        with tool_errors("ask"):
            raise RateLimited("Gemini rate limit or quota reached.", retry_after=3)


def test_unexpected_errors_are_logged_and_answered_generically(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(ToolError) as raised:
        with tool_errors("generate_image"):
            raise RuntimeError("secret internals /home/x/key=abc")
    message = str(raised.value)
    assert "unexpected problem while running generate_image" in message and "Try again" in message
    assert "secret" not in message
    assert "secret internals" in caplog.text  # the traceback is in the server log
