"""The long markdown report a Deep Research job ends with.

Title, executive summary, key findings, numbered sections with bullet lists, a table and a code fence,
and a sources list; cited sentences carry ``url_citation`` annotations whose ``start_index``/``end_index``
are character offsets into the text item that holds them. Deterministic for a given topic and length.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any

_ANGLES = (
    "Background and definitions",
    "Current landscape",
    "Technical analysis",
    "Economic considerations",
    "Adoption and case studies",
    "Comparison of approaches",
    "Risks and open questions",
    "Outlook for the next five years",
    "Further evidence",
    "Regional differences",
    "Methodological notes",
    "Stakeholder perspectives",
)
_SENTENCES = (
    "Recent work on {topic} shows steady progress, although results vary between studies.",
    "Practitioners describe {topic} as promising but demanding to operate at scale.",
    "The evidence on {angle} is mixed, and the strongest claims rest on few sources.",
    "Several independent reports agree that cost remains the main barrier for {topic}.",
    "Measured over the last three years, interest in {topic} roughly doubled.",
    "A recurring theme in the literature on {angle} is the gap between pilots and production use.",
    "Experts caution that benchmarks for {topic} rarely reflect real workloads.",
    "Public datasets about {topic} are incomplete, so the figures below are estimates.",
    "Most sources treat {angle} as the deciding factor for long-term adoption.",
    "Where data was missing, this report states the assumption it makes instead of guessing.",
    "Open-source tooling has lowered the entry cost of {topic} considerably.",
    "Regulators have started to ask how {topic} is evaluated and audited.",
)


@dataclass
class ReportPart:
    text: str
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    title: str
    parts: list[ReportPart]  # a chart image, when there is one, goes between parts[0] and parts[1]
    sources: list[tuple[str, str]]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts)


class _Writer:
    def __init__(self, sources: list[tuple[str, str]]) -> None:
        self.parts: list[ReportPart] = [ReportPart("")]
        self.sources = sources

    @property
    def length(self) -> int:
        return sum(len(p.text) for p in self.parts)

    def add(self, text: str) -> None:
        self.parts[-1].text += text

    def cite(self, sentence: str, source: int) -> None:
        part = self.parts[-1]
        start = len(part.text)
        part.text += f"{sentence} [{source + 1}]"
        title, url = self.sources[source]
        part.annotations.append(
            {
                "type": "url_citation",
                "url": url,
                "title": title,
                "start_index": start,
                "end_index": len(part.text),
            }
        )
        part.text += " "

    def split(self) -> None:
        self.parts.append(ReportPart(""))


# Reports are model-written markdown, and markdown may carry raw HTML: Deep Research's own docs describe charts
# "generated using HTML" in its reports. ``[emulator:html]`` puts some in, written as an attacker would, so that
# whoever renders a report (the MCP App view) is tested against it.
HOSTILE_HTML = (
    "<p>An interactive figure follows: "
    '<img src="x" onerror="parent.postMessage({pwned: \'img-onerror\'}, \'*\')" alt="figure">'
    "<script>parent.postMessage({pwned: 'script'}, '*')</script>"
    "<a href=\"javascript:parent.postMessage({pwned: 'link'}, '*')\">open the figure</a></p>\n\n"
)


def build_report(
    prompt: str,
    target_chars: int,
    *,
    split_for_image: bool = False,
    raw_html: bool = False,
    scope: list[str] | None = None,
) -> Report:
    """``scope``: what the user answered to the agent's plan (collaborative planning), quoted in the report."""
    topic = _topic(prompt)
    rng = random.Random(hashlib.sha256(topic.encode()).hexdigest())
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40] or "topic"
    sources = [
        (f"{topic}: {kind}", f"https://example.com/emulator/research/{slug}/{n + 1}")
        for n, kind in enumerate(
            (
                "an overview",
                "market data",
                "a technical survey",
                "case studies",
                "expert interviews",
                "a policy brief",
                "benchmarks",
                "a critical review",
            )
        )
    ]
    w = _Writer(sources)
    title = f"{topic}: a research report"
    w.add(f"# {title}\n\n")
    w.add("*Simulated by the Gemini Interactions emulator; sources point at example.com.*\n\n")
    agreed = [" ".join(line.split()) for line in scope or () if line.strip()]
    if agreed:
        w.add("## Scope agreed with you\n\n")
        w.add("".join(f"> {line[:500]}\n" for line in agreed) + "\n")
    w.add("## Executive summary\n\n")
    _paragraph(w, rng, topic, "the overall picture", 4)
    if raw_html:
        w.add("\n\n" + HOSTILE_HTML)
    w.add("\n\n## Key findings\n\n")
    for i in range(5):
        w.add("- ")
        w.cite(_sentence(rng, topic, _ANGLES[i]), i % len(sources))
        w.add("\n")
    w.add("\n")
    section = 0
    half = target_chars // 2
    while w.length < target_chars - 600 or section < 4:
        angle = _ANGLES[section % len(_ANGLES)]
        section += 1
        if split_for_image and len(w.parts) == 1 and w.length >= half:
            w.add(f"Figure 1 below charts the relative weight of the factors discussed for {topic}.\n\n")
            w.split()
            w.add("\n\n")
        w.add(f"## {section}. {angle}\n\n")
        _paragraph(w, rng, topic, angle, 5)
        w.add("\n\n")
        if section % 3 == 1:
            for _ in range(3):
                w.add(f"- {_sentence(rng, topic, angle)}\n")
            w.add("\n")
        if section == 2:
            _table(w, rng, topic)
        if section == 3:
            _code(w, topic)
    if split_for_image and len(w.parts) == 1:
        w.split()
        w.add("\n\n")
    w.add("## Recommendations\n\n")
    for i in range(3):
        w.add(f"{i + 1}. {_sentence(rng, topic, _ANGLES[(i + 5) % len(_ANGLES)])}\n")
    w.add("\n## Sources\n\n")
    for i, (name, url) in enumerate(sources):
        w.add(f"{i + 1}. [{name}]({url})\n")
    return Report(title, w.parts, sources)


def _topic(prompt: str) -> str:
    text = re.sub(r"\[emulator:[^\]]*\]", "", prompt)
    text = " ".join(text.split()).strip(" .?!") or "The requested topic"
    text = re.sub(r"^(please\s+)?(research|investigate|look into|study)\s+", "", text, flags=re.I)
    text = text[:80].rstrip()
    return text[0].upper() + text[1:]


def _sentence(rng: random.Random, topic: str, angle: str) -> str:
    return rng.choice(_SENTENCES).format(topic=topic, angle=angle.lower())


def _paragraph(w: _Writer, rng: random.Random, topic: str, angle: str, sentences: int) -> None:
    for i in range(sentences):
        text = _sentence(rng, topic, angle)
        if i % 2 == 0:
            w.cite(text, rng.randrange(len(w.sources)))
        else:
            w.add(text + " ")


def _table(w: _Writer, rng: random.Random, topic: str) -> None:
    w.add(f"| Factor | Observation for {topic[:30]} | Confidence |\n|---|---|---|\n")
    for factor in ("Cost", "Maturity", "Adoption", "Regulation", "Talent"):
        w.add(
            f"| {factor} | {rng.choice(('rising', 'stable', 'falling', 'uneven'))} | "
            f"{rng.choice(('high', 'medium', 'low'))} |\n"
        )
    w.add("\n")


def _code(w: _Writer, topic: str) -> None:
    w.add("A minimal way to reproduce the trend estimate used in this section:\n\n")
    w.add("```python\n")
    w.add(f"# trend estimate for: {topic[:50]}\n")
    w.add("values = [12, 15, 19, 24, 31]\n")
    w.add("growth = [(b - a) / a for a, b in zip(values, values[1:])]\n")
    w.add('print(f"mean growth: {sum(growth) / len(growth):.1%}")\n')
    w.add("```\n\n")
