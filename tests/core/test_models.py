"""Defaults that do not rot: every default model and agent id is in the installed SDK's lists and not in the
table of retired ids (each row citing Google); an SDK upgrade or an announcement turns this red first."""

from __future__ import annotations

from typing import get_args

from google.genai._gaos.types.interactions.agentoption import AgentOption
from google.genai._gaos.types.interactions.model import Model
from google.genai._gaos.types.interactions.thinkinglevel import ThinkingLevel

from server.core import Settings, models


def _listed(union: object) -> set[str]:
    return {value for member in get_args(union) for value in get_args(member) if isinstance(value, str)}


def test_defaults_are_current_sdk_ids_and_not_retired() -> None:
    defaults = Settings(api_key=None)
    assert (defaults.model, defaults.image_model, defaults.research_agent) == (
        models.DEFAULT_MODEL,
        models.DEFAULT_IMAGE_MODEL,
        models.DEFAULT_RESEARCH_AGENT,
    )
    assert models.DEFAULT_MODEL == "gemini-flash-latest"
    for model in (models.DEFAULT_MODEL, models.DEFAULT_IMAGE_MODEL):
        assert model in _listed(Model), f"{model} is not in the installed SDK's Model list"
        assert model not in models.RETIRED_IDS, f"{model} is retired: {models.retired(model)}"
    for agent in (models.DEFAULT_RESEARCH_AGENT, models.THOROUGH_RESEARCH_AGENT):
        assert agent in _listed(AgentOption), f"{agent} is not in the installed SDK's AgentOption list"
        assert agent not in models.RETIRED_IDS, f"{agent} is retired: {models.retired(agent)}"


def test_the_retired_table_cites_google_and_names_current_replacements() -> None:
    assert models.RETIRED[0].id == "gemini-3.5-flash"
    for row in models.RETIRED:
        assert "https://ai.google.dev/" in row.source, row
        assert row.replacement not in models.RETIRED_IDS
        assert row.replacement in _listed(Model) | _listed(AgentOption), row


def test_thinking_levels_are_the_sdks() -> None:
    assert set(models.THINKING_LEVELS) == _listed(ThinkingLevel)
    assert Settings(api_key=None, thinking_level="low").thinking_level == "low"
    assert Settings(api_key=None, thinking_level="").thinking_level is None
