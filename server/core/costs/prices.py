"""The price table and the estimated cost of one call: Google's list prices per model, applied to its usage.

The table is data: ``prices.toml`` next to this module (shipped in the package), or the operator's own file named
by ``GEMINI_INTERACTIONS_PRICES_FILE`` (same format, documented at the top of ``prices.toml``). Every row cites
its source and the date it was read. A model the table does not price has an unknown cost: ``Cost(usd=None)``,
shown as unknown, never as 0.

    table = PriceTable.load(settings.prices_file)
    cost = table.estimate("gemini-3.8-flash", usage, at=datetime.now(UTC))
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..domain import Cost, Usage
from ..errors import ConfigurationError

PER_MILLION = Decimal(1_000_000)
MICRO_USD = Decimal("0.000001")
SHIPPED = "prices.toml"
SETTING = "GEMINI_INTERACTIONS_PRICES_FILE"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class LongContext(_Strict):
    above: int = Field(gt=0, description="prompt tokens of one request above which these prices apply")
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)


class Price(_Strict):
    """USD per million tokens, valid from ``from`` (inclusive) until ``until`` (exclusive), UTC dates."""

    valid_from: date | None = Field(default=None, alias="from")
    until: date | None = None
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)
    input_audio: Decimal | None = Field(default=None, ge=0)
    output_image: Decimal | None = Field(default=None, ge=0)
    long_context: LongContext | None = None

    def applies_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.until is None or day < self.until
        )


class ModelRow(_Strict):
    source: str = Field(min_length=1, description="where the prices come from (a URL)")
    read_on: date
    via: str | None = None
    note: str | None = None
    prices: tuple[Price, ...] = ()
    same_as: str | None = None
    flat: bool = False  # never apply long-context prices (a research run's usage sums many requests)
    unknown: str | None = None  # why this model's price is unknown

    @model_validator(mode="after")
    def _one_kind(self) -> ModelRow:
        kinds = [bool(self.prices), self.same_as is not None, self.unknown is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of 'prices', 'same_as' or 'unknown'")
        return self


class Grounding(_Strict):
    google_search_per_1000: Decimal = Field(ge=0)
    source: str = Field(min_length=1)
    read_on: date


class PriceFile(_Strict):
    version: str = Field(min_length=1)
    currency: Literal["USD"] = "USD"
    grounding: Grounding | None = None
    models: dict[str, ModelRow]

    @model_validator(mode="after")
    def _aliases_resolve(self) -> PriceFile:
        for name in self.models:
            seen = {name}
            row = self.models[name]
            while row.same_as is not None:
                if row.same_as not in self.models:
                    raise ValueError(f"models.{name!r}: same_as {row.same_as!r} is not in the table")
                if row.same_as in seen:
                    raise ValueError(f"models.{name!r}: same_as goes round in a circle")
                seen.add(row.same_as)
                row = self.models[row.same_as]
        return self


def to_micro_usd(usd: Decimal) -> int:
    return int((usd / MICRO_USD).to_integral_value(ROUND_HALF_UP))


def from_micro_usd(micro: int) -> Decimal:
    return (Decimal(micro) * MICRO_USD).quantize(MICRO_USD)


class PriceTable:
    def __init__(self, table: PriceFile, *, origin: str) -> None:
        self.table = table
        self.origin = origin  # "the shipped price table" or the operator's file

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The operator's table at ``path``, or the shipped one; ConfigurationError naming what is wrong."""
        if path is None:
            text = resources.files(__package__ or "server.core.costs").joinpath(SHIPPED).read_text("utf-8")
            origin = "the shipped price table"
        else:
            origin = f"{SETTING} ({path})"
            try:
                text = path.expanduser().read_text("utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    f"{origin} cannot be read ({exc.strerror or exc.__class__.__name__}). Fix the path, or "
                    "unset it to use the shipped price table."
                ) from None
        try:
            table = PriceFile.model_validate(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{origin} is not valid TOML: {exc}.") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'table'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise ConfigurationError(
                f"{origin} is not a usable price table ({problems}). Its format is described at the top of "
                "server/core/costs/prices.toml."
            ) from None
        return cls(table, origin=origin)

    @property
    def version(self) -> str:
        return self.table.version

    def estimate(self, model: str | None, usage: Usage, *, at: datetime) -> Cost:
        """The estimated cost of a call of ``model`` with ``usage``, made at ``at`` (UTC)."""
        if not model:
            return Cost(None, "unknown: Gemini did not say which model served this call")
        row = self.table.models.get(model)
        if row is None:
            return Cost(None, f"unknown: {model} is not in {self.origin} (version {self.version})")
        flat = row.flat
        priced_as = model
        while row.same_as is not None:
            priced_as = row.same_as
            row = self.table.models[row.same_as]
            flat = flat or row.flat
        if row.unknown is not None:
            return Cost(None, f"unknown: the price of {priced_as} is {row.unknown}")
        day = at.date()
        price = next((p for p in row.prices if p.applies_on(day)), None)
        if price is None:
            return Cost(None, f"unknown: {self.origin} has no price for {priced_as} on {day.isoformat()}")
        usd = self._tokens(price, usage, flat=flat) + self._searches(usage)
        alias = f" (priced as {priced_as})" if priced_as != model else ""
        return Cost(
            usd.quantize(MICRO_USD, ROUND_HALF_UP),
            f"estimate: {model}{alias} at {row.source} as read on {row.read_on.isoformat()}, "
            f"price table {self.version}",
        )

    @staticmethod
    def _tokens(price: Price, usage: Usage, *, flat: bool) -> Decimal:
        rate_in, rate_out = price.input, price.output
        prompt = usage.initial_input_tokens if usage.initial_input_tokens is not None else usage.input_tokens
        long = price.long_context
        if long is not None and not flat and prompt > long.above:
            rate_in, rate_out = long.input, long.output
        cached = min(usage.cached_tokens, usage.input_tokens)
        audio = 0
        if price.input_audio is not None:
            audio = min(usage.input_by_modality.get("audio", 0), usage.input_tokens - cached)
        fresh = usage.input_tokens - cached - audio
        images = 0
        if price.output_image is not None:
            images = min(usage.output_by_modality.get("image", 0), usage.output_tokens)
        total = (
            fresh * rate_in
            + audio * (price.input_audio or 0)
            + cached * (price.cached_input if price.cached_input is not None else rate_in)
            + usage.tool_use_tokens * rate_in
            + (usage.output_tokens - images + usage.thought_tokens) * rate_out
            + images * (price.output_image or 0)
        )
        return Decimal(total) / PER_MILLION

    def _searches(self, usage: Usage) -> Decimal:
        searches = usage.grounding_tool_counts.get("google_search", 0)
        grounding = self.table.grounding
        if not searches or grounding is None:
            return Decimal(0)
        return searches * grounding.google_search_per_1000 / 1000


def format_usd(amount: Decimal | None) -> str:
    """``$1.23``, ``$1,234.50``; under a cent with four decimals (``$0.0042``); None is ``unknown``."""
    if amount is None:
        return "unknown"
    if amount == 0:
        return "$0.00"
    if abs(amount) < Decimal("0.01"):
        shown = amount.quantize(Decimal("0.0001"), ROUND_HALF_UP)
        return f"${shown}" if shown else "under $0.0001"
    return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
