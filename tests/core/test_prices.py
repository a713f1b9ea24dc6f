"""The price table: known usages priced by hand from Google's published prices (not the table read back)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from server.core import ConfigurationError, PriceTable, Usage, format_usd

TODAY = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_flash_answer_at_the_introductory_and_the_later_price(table: PriceTable) -> None:
    usage = Usage(input_tokens=12_000, output_tokens=3_000, thought_tokens=1_000, total_tokens=16_000)
    # $0.75 / M in, $3.75 / M out (thinking included) until 2026-12-31: 12,000 × 0.75 + 4,000 × 3.75 = 24,000 µ$.
    assert table.estimate("gemini-3.8-flash", usage, at=TODAY).usd == Decimal("0.024")
    # $1.50 / $7.50 from 2027-01-01: 12,000 × 1.5 + 4,000 × 7.5 = 48,000 µ$.
    assert table.estimate("gemini-3.8-flash", usage, at=NEXT_YEAR).usd == Decimal("0.048")


def test_the_flash_alias_is_priced_as_the_model_it_names(table: PriceTable) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    cost = table.estimate("gemini-flash-latest", usage, at=TODAY)
    assert cost.usd == Decimal("0.75")
    assert "priced as gemini-3.8-flash" in cost.basis and "estimate" in cost.basis


def test_pro_long_prompts_cost_more_and_continuations_do_not_count_as_long(table: PriceTable) -> None:
    short = Usage(input_tokens=150_000, output_tokens=10_000)
    # ≤ 200k prompt: 150,000 × $2 + 10,000 × $12 = $0.30 + $0.12.
    assert table.estimate("gemini-3.1-pro-preview", short, at=TODAY).usd == Decimal("0.42")
    long = Usage(input_tokens=250_000, output_tokens=10_000)
    # > 200k prompt: 250,000 × $4 + 10,000 × $18 = $1.00 + $0.18.
    assert table.estimate("gemini-3.1-pro-preview", long, at=TODAY).usd == Decimal("1.18")
    # Three hops of a 100k prompt: each request is short; the prompt is billed three times at $2.
    hops = Usage(input_tokens=300_000, output_tokens=10_000, initial_input_tokens=100_000)
    assert table.estimate("gemini-3.1-pro-preview", hops, at=TODAY).usd == Decimal("0.72")


def test_a_deep_research_run_is_billed_as_its_models_tokens_plus_searches(table: PriceTable) -> None:
    usage = Usage(
        input_tokens=250_000,
        cached_tokens=200_000,
        output_tokens=60_000,
        thought_tokens=20_000,
        grounding_tool_counts={"google_search": 80},
    )
    # Gemini 3.1 Pro base rates (a run sums many requests: no long-context price), no cached price given so the
    # cached tokens count at the input price: 250,000 × $2 = $0.50; 80,000 × $12 = $0.96; 80 searches at
    # $14 / 1,000 = $1.12. Total $2.58.
    cost = table.estimate("deep-research-preview-04-2026", usage, at=TODAY)
    assert cost.usd == Decimal("2.58")
    assert table.estimate("deep-research-max-preview-04-2026", usage, at=TODAY).usd == Decimal("2.58")


def test_image_and_audio_tokens_at_their_own_prices(table: PriceTable) -> None:
    image = Usage(input_tokens=20, output_tokens=1_130, output_by_modality={"text": 10, "image": 1_120})
    # 20 × $0.50 + 10 × $3.00 + 1,120 × $60.00 (a 1K image: $0.0672) = 10 + 30 + 67,200 µ$.
    assert table.estimate("gemini-3.1-flash-image", image, at=TODAY).usd == Decimal("0.06724")
    audio = Usage(input_tokens=1_000, output_tokens=100, input_by_modality={"text": 400, "audio": 600})
    # 400 × $0.30 + 600 × $1.00 (audio) + 100 × $2.50 = 120 + 600 + 250 µ$.
    assert table.estimate("gemini-2.5-flash", audio, at=TODAY).usd == Decimal("0.00097")


def test_tool_use_tokens_are_input_and_rounding_is_to_the_micro_dollar(table: PriceTable) -> None:
    usage = Usage(input_tokens=3, output_tokens=1, tool_use_tokens=64)
    # (3 + 64) × $0.10 + 1 × $0.40 = 6.7 + 0.4 = 7.1 µ$ → 7 µ$.
    assert table.estimate("gemini-2.5-flash-lite", usage, at=TODAY).usd == Decimal("0.000007")


def test_unknown_prices_are_unknown_never_zero(table: PriceTable) -> None:
    usage = Usage(input_tokens=100, output_tokens=100)
    for model in ("gemini-3.6-flash", "gemini-4-argon", "no-such-model", None):
        cost = table.estimate(model, usage, at=TODAY)
        assert cost.usd is None and not cost.known
        assert cost.basis.startswith("unknown")
    assert "not found on Google's pricing page" in table.estimate("gemini-3.6-flash", usage, at=TODAY).basis


def test_every_row_cites_its_source_and_date(table: PriceTable) -> None:
    for name, row in table.table.models.items():
        assert row.source.startswith("https://"), name
        assert row.read_on.year == 2026, name


def test_the_operators_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        'version = "ours-1"\n'
        '[models."gemini-3.8-flash"]\nsource = "our contract"\nread_on = 2026-12-01\n'
        '[[models."gemini-3.8-flash".prices]]\ninput = 0.50\noutput = 2.00\ncached_input = 0.05\n'
    )
    table = PriceTable.load(path)
    usage = Usage(input_tokens=10_000, cached_tokens=8_000, output_tokens=1_000)
    # 2,000 × $0.50 + 8,000 × $0.05 + 1,000 × $2.00 = 1,000 + 400 + 2,000 µ$.
    assert table.estimate("gemini-3.8-flash", usage, at=TODAY).usd == Decimal("0.0034")
    assert table.estimate("gemini-3.1-pro-preview", usage, at=TODAY).usd is None
    assert "ours-1" in table.estimate("gemini-3.8-flash", usage, at=TODAY).basis


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("version = 1\n[models]\n", "version"),
        ('version = "x"\n[models."m"]\nsource = "s"\nread_on = 2026-01-01\n', "exactly one of"),
        (
            'version = "x"\n[models."m"]\nsource = "s"\nread_on = 2026-01-01\nsame_as = "n"\n',
            "not in the table",
        ),
        ('version = "x"\nmodels = [', "not valid TOML"),
    ],
)
def test_a_broken_table_is_refused_with_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as caught:
        PriceTable.load(path)
    assert problem in str(caught.value) and "GEMINI_INTERACTIONS_PRICES_FILE" in str(caught.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        PriceTable.load(tmp_path / "nope.toml")


def test_money_is_shown_readably() -> None:
    assert format_usd(None) == "unknown"
    assert format_usd(Decimal(0)) == "$0.00"
    assert format_usd(Decimal("0.00424")) == "$0.0042"
    assert format_usd(Decimal("0.00000004")) == "under $0.0001"
    assert format_usd(Decimal("1234.5")) == "$1,234.50"
