"""The prompts the server offers: ready-made requests a host can show its user."""

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

COMPETITIVE_BRIEF = """\
Please run a Gemini Deep Research job with the start_research tool, using the brief below as its \
prompt. Then check it with research_status about once a minute until it completes, and give me the \
executive summary and the SWOT table (the full report stays available at the research:// resource).

Brief for start_research:

Write a competitive-intelligence report on {company}, in markdown, citing every source with a link \
and its date.
1. Executive summary (5-8 bullet points).
2. Company overview: business segments, revenue mix, geographic footprint, strategy.
3. Latest annual report (Form 10-K, or 20-F / the annual report if not US-listed): headline figures, \
segment results, risk factors that matter.
4. Earnings: the last four quarterly results and earnings calls: revenue, margins, guidance, and what \
management emphasised or avoided.
5. News of the last 12 months: products, partnerships, M&A, leadership changes, litigation, regulation.
6. Competitive landscape: the main competitors, relative positioning and market share where available.
7. SWOT analysis as a markdown table (Strengths, Weaknesses, Opportunities, Threats), each point \
backed by evidence.
8. What to watch next: upcoming catalysts and open questions.
Flag figures you could not verify, and say which period each number refers to."""


def competitive_intelligence(
    company: Annotated[
        str,
        Field(
            min_length=1, max_length=200, description="The company to research (name, and ticker if listed)."
        ),
    ],
) -> str:
    """Turn a company name into a Deep Research request: annual report, earnings, last 12 months of
    news, competitors and a SWOT analysis, in markdown."""
    return COMPETITIVE_BRIEF.format(company=company.strip())


def register(server: MCPServer[Any]) -> None:
    server.prompt(name="competitive_intelligence", title="Competitive intelligence (Deep Research)")(
        competitive_intelligence
    )
