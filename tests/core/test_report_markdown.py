"""A report's sources: listed once, whether or not the report lists them itself."""

from __future__ import annotations

from server.core import Answer, Citation
from server.core.research.reports import report_markdown

A = Citation("https://a.example/one", "One")
B = Citation("https://b.example/two", None)


def _answer(text: str, *citations: Citation) -> Answer:
    return Answer(interaction_id="v1_x", status="completed", text=text, citations=citations)


def test_a_report_without_a_list_gets_its_cited_sources_as_links() -> None:
    report = report_markdown(_answer("Findings [1] and more [2].\n", A, B))
    assert report == (
        "Findings [1] and more [2].\n\n## Sources\n\n"
        "1. [One](https://a.example/one)\n2. [https://b.example/two](https://b.example/two)\n"
    )


def test_a_report_that_lists_its_sources_keeps_its_own_list_alone() -> None:
    text = "Findings [1].\n\n## Sources\n\n1. [One](https://a.example/one)\n2. [Two](https://b.example/two)\n"
    assert report_markdown(_answer(text, A, B)) == text


def test_sources_the_report_left_out_are_added_after_its_own() -> None:
    text = "Findings [1].\n\n## Sources\n\n1. [One](https://a.example/one)\n"
    assert report_markdown(_answer(text, A, B)) == (
        f"{text.rstrip()}\n\n## More sources\n\n1. [https://b.example/two](https://b.example/two)\n"
    )


def test_no_text_is_no_report_and_no_citations_leave_the_text_as_is() -> None:
    assert report_markdown(_answer("")) is None
    assert report_markdown(_answer("Just text.")) == "Just text."
