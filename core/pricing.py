"""Model prices: the shipped table, the user's edited copy, and cost arithmetic in CNY and USD.

Pure Python (no Streamlit). Prices are per 1M tokens in each row's own currency; a conversion
rate (CNY per USD) lets costs in both currencies be added up and compared.

The shipped table is `core/data/prices.csv`; the user's copy is `<data dir>/prices.csv` with the
rate in `<data dir>/pricing.json`. A saved copy that cannot be read is never used half-way: the
shipped table is used instead and `PriceTable.warnings` says why.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from numbers import Real
from pathlib import Path
from typing import Any, TypeVar

from core.atomic_file import write_text_atomic

CURRENCIES: tuple[str, ...] = ("CNY", "USD")
CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$"}
# Spellings a person may type in a hand-edited file; anything else is an unknown currency.
CURRENCY_ALIASES = {"RMB": "CNY", "元": "CNY", "人民币": "CNY", "US$": "USD", "美元": "USD"}

# The default rate: about what one US dollar bought in yuan through 2024-2025 (the central parity
# moved between roughly 7.1 and 7.3). Users set today's rate on the Usage & cost page.
DEFAULT_CNY_PER_USD = 7.2

SHIPPED_PATH = Path(__file__).parent / "data" / "prices.csv"
PRICES_FILE = "prices.csv"
RATE_FILE = "pricing.json"
COLUMNS: tuple[str, ...] = ("model", "currency", "input_per_m", "output_per_m", "per_image",
                            "training_per_m", "source", "date")
REQUIRED_COLUMNS: tuple[str, ...] = ("model", "currency", "input_per_m", "output_per_m")
_NUMBER_COLUMNS = ("input_per_m", "output_per_m", "per_image", "training_per_m")
_OPTIONAL_NUMBERS = ("per_image", "training_per_m")
MILLION = 1_000_000

# A dated or numbered snapshot of a known model: glm-4-flash-250414, gpt-4o-2024-08-06.
# Anything else after a known id is another model (gpt-4.1-mini is not gpt-4.1; glm-4.5 is not glm-4).
_SNAPSHOT_SUFFIX = re.compile(r"^-\d[\d-]*$")
T = TypeVar("T")


@dataclass(frozen=True)
class Price:
    """One row of the price table."""

    model: str
    currency: str  # "CNY" | "USD"
    input_per_m: float  # per 1M prompt tokens; 0 for a free model
    output_per_m: float  # per 1M completion tokens
    per_image: float | None = None  # image models (CogView-3: 0.25 CNY / image)
    training_per_m: float | None = None  # fine-tuning, per 1M training tokens, where known
    source: str = ""  # where the number came from
    date: str = ""  # when (YYYY, YYYY-MM or YYYY-MM-DD)

    def cost(self, prompt_tokens: Any, completion_tokens: Any, images: Any = 0) -> float:
        """The cost in this row's currency; None or unreadable counts are 0."""
        amount = (token_count(prompt_tokens) * self.input_per_m
                  + token_count(completion_tokens) * self.output_per_m) / MILLION
        if self.per_image:
            amount += token_count(images) * self.per_image
        return amount

    def to_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass(frozen=True)
class PriceProblem:
    """Why a row cannot be used: 1-based row, the column's field name, and the catalogue key
    (with its values) that says what to fix. `row` is 0 for the rate, which is not a row."""

    row: int
    column: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceNotice:
    """Something the user should know about how the table was loaded (a catalogue key)."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    problem: PriceProblem | None = None  # the first bad row of a saved file that was not used


@dataclass(frozen=True)
class PriceTable:
    """The prices in force and the CNY per USD rate.

    `origin` is "shipped" or "saved"; `warnings` explain a saved copy that could not be used.
    Neither takes part in equality: two tables are equal when their prices and rate are.
    """

    prices: tuple[Price, ...]
    cny_per_usd: float = DEFAULT_CNY_PER_USD
    origin: str = field(default="shipped", compare=False)
    warnings: tuple[PriceNotice, ...] = field(default=(), compare=False)

    # ---- loading and saving -------------------------------------------------------------------
    @classmethod
    def shipped(cls) -> PriceTable:
        """The table that comes with the playground (core/data/prices.csv)."""
        return _shipped()

    @classmethod
    def load(cls, data_dir: Path) -> PriceTable:
        """The user's saved copy if present and valid, else the shipped prices (and why)."""
        data_dir = Path(data_dir)
        shipped = cls.shipped()
        prices, origin = shipped.prices, "shipped"
        warnings: list[PriceNotice] = []
        prices_path = data_dir / PRICES_FILE
        if prices_path.exists():
            try:
                saved, problems = parse_prices_csv(prices_path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError) as err:
                warnings.append(PriceNotice("pricing.warn.saved_unreadable",
                                            {"path": str(prices_path), "reason": _reason(err)}))
            else:
                if problems:
                    warnings.append(PriceNotice("pricing.warn.saved_invalid",
                                                {"path": str(prices_path), "count": len(problems)},
                                                problem=problems[0]))
                else:
                    prices, origin = tuple(saved), "saved"
        rate = shipped.cny_per_usd
        rate_path = data_dir / RATE_FILE
        if rate_path.exists():
            try:
                data = json.loads(rate_path.read_text(encoding="utf-8"))
                value = data.get("cny_per_usd") if isinstance(data, dict) else None
                if rate_problem(value) is not None:
                    raise ValueError(f"cny_per_usd is {value!r}")
                rate = float(value)  # type: ignore[arg-type]
            except (OSError, ValueError) as err:
                warnings.append(PriceNotice("pricing.warn.rate_unreadable",
                                            {"path": str(rate_path), "reason": _reason(err),
                                             "rate": _plain(shipped.cny_per_usd)}))
        return cls(prices, rate, origin=origin, warnings=tuple(warnings))

    @classmethod
    def load_cached(cls, data_dir: Path) -> PriceTable:
        """`load`, read again only when the saved files change: cheap enough for every rerun."""
        data_dir = Path(data_dir)
        return _load_cached(str(data_dir), _file_stamp(data_dir / PRICES_FILE),
                            _file_stamp(data_dir / RATE_FILE))

    def save(self, data_dir: Path) -> None:
        """Write prices.csv and pricing.json under `data_dir`, each atomically. Raises OSError."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(data_dir / PRICES_FILE, prices_to_csv(self.prices))
        rate = {"cny_per_usd": self.cny_per_usd}
        _atomic_write(data_dir / RATE_FILE, json.dumps(rate, indent=1) + "\n")

    # ---- lookups and arithmetic ---------------------------------------------------------------
    def find(self, model: str | None) -> Price | None:
        """The row for `model`: its exact id (any case), else the longest known id it is a dated
        snapshot of ("glm-4-flash-250414" -> glm-4-flash); None when the model has no price."""
        return match_model(model, self.prices, lambda price: price.model)

    def cost(self, model: str | None, prompt_tokens: Any, completion_tokens: Any,
             images: Any = 0) -> tuple[float, str] | None:
        """(amount, currency) in the row's own currency; None for a model with no price."""
        price = self.find(model)
        if price is None:
            return None
        return price.cost(prompt_tokens, completion_tokens, images), price.currency

    def cost_in(self, model: str | None, prompt_tokens: Any, completion_tokens: Any,
                currency: str, images: Any = 0) -> float | None:
        """The cost converted to `currency`; None for a model with no price."""
        found = self.cost(model, prompt_tokens, completion_tokens, images)
        if found is None:
            return None
        return self.convert(found[0], found[1], currency)

    def convert(self, amount: float, from_currency: str, to_currency: str) -> float:
        """`amount` in `from_currency` expressed in `to_currency`, at this table's rate."""
        source, target = currency_code(from_currency), currency_code(to_currency)
        if source is None or target is None:
            raise ValueError(f"unknown currency: {from_currency!r} -> {to_currency!r}")
        if source == target:
            return amount
        return amount * self.cny_per_usd if source == "USD" else amount / self.cny_per_usd

    def models(self) -> list[str]:
        return [p.model for p in self.prices]

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (the editor's and the CSV's columns)."""
        return [p.to_record() for p in self.prices]

    def with_prices(self, prices: list[Price] | tuple[Price, ...],
                    cny_per_usd: float | None = None) -> PriceTable:
        rate = self.cny_per_usd if cny_per_usd is None else cny_per_usd
        return replace(self, prices=tuple(prices), cny_per_usd=rate, warnings=())


def match_model(model: str | None, items: Iterable[T], model_of: Callable[[T], str]) -> T | None:
    """The item whose model id (`model_of(item)`) is `model`, in any case; else the one with the
    longest id that `model` is a dated snapshot of ("glm-4-flash-250414" -> glm-4-flash); else None."""
    if not model or not str(model).strip():
        return None
    wanted = str(model).strip().lower()
    best: T | None = None
    best_len = -1
    for item in items:
        known = model_of(item).strip().lower()
        if known == wanted:
            return item
        if len(known) > best_len and wanted.startswith(known) and _SNAPSHOT_SUFFIX.match(wanted[len(known):]):
            best, best_len = item, len(known)
    return best


# ---- validation ---------------------------------------------------------------------------------
def validate_price_records(records: list[dict[str, Any]]) -> tuple[list[Price], list[PriceProblem]]:
    """Check the rows as typed in the editor (or read from a file).

    Rows are numbered from 1 in the order given; a row left empty (added and never filled: at
    most the editor's default currency) is skipped. Returns the good rows' prices and every
    problem found.
    """
    prices: list[Price] = []
    problems: list[PriceProblem] = []
    first_row: dict[str, int] = {}
    for row, record in enumerate(records, start=1):
        if all(_blank(record.get(name)) for name in COLUMNS if name != "currency"):
            continue
        found: list[PriceProblem] = []
        model = "" if _blank(record.get("model")) else str(record.get("model")).strip()
        context = {"model": model}
        if not model:
            found.append(PriceProblem(row, "model", "pricing.problem.empty_model", context))
        elif model.lower() in first_row:
            found.append(PriceProblem(row, "model", "pricing.problem.duplicate_model",
                                      {**context, "first_row": first_row[model.lower()]}))
        else:
            first_row[model.lower()] = row
        raw_currency = record.get("currency")
        currency = currency_code(raw_currency)
        if currency is None:
            key = "pricing.problem.no_currency" if _blank(raw_currency) else "pricing.problem.currency"
            found.append(PriceProblem(row, "currency", key, {
                **context, "value": "" if _blank(raw_currency) else str(raw_currency).strip(),
                "choices": " / ".join(CURRENCIES)}))
        numbers: dict[str, float | None] = {}
        for column in _NUMBER_COLUMNS:
            value, key = _number(record.get(column))
            if key == "pricing.problem.missing" and column in _OPTIONAL_NUMBERS:
                key = None
            if key:
                found.append(PriceProblem(row, column, key, {**context, "value": _shown(record.get(column))}))
            numbers[column] = value
        problems += found
        if not found and currency is not None:
            prices.append(Price(
                model=model, currency=currency,
                input_per_m=numbers["input_per_m"] or 0.0, output_per_m=numbers["output_per_m"] or 0.0,
                per_image=numbers["per_image"], training_per_m=numbers["training_per_m"],
                source=_shown(record.get("source")), date=_shown(record.get("date"))))
    return prices, problems


def rate_problem(value: Any) -> PriceProblem | None:
    """The problem with a CNY per USD rate, or None when it is a number above 0."""
    number, key = _number(value)
    if key is None and number is not None and number > 0:
        return None
    return PriceProblem(0, "cny_per_usd", "pricing.problem.rate", {"value": _shown(value)})


def parse_prices_csv(text: str) -> tuple[list[Price], list[PriceProblem]]:
    """Rows of a prices.csv; a missing required column is one problem on row 0."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        return [], [PriceProblem(0, missing[0], "pricing.problem.no_column", {"column": missing[0]})]
    records = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    return validate_price_records(records)


def prices_to_csv(prices: tuple[Price, ...] | list[Price]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in prices:
        writer.writerow([p.model, p.currency, _plain(p.input_per_m), _plain(p.output_per_m),
                         _plain(p.per_image), _plain(p.training_per_m), p.source, p.date])
    return out.getvalue()


# ---- helpers ------------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _shown(value: Any) -> str:
    """A cell as the user typed it, stripped ("" when blank): for a text column or a message."""
    return "" if _blank(value) else str(value).strip()


def _number(value: Any) -> tuple[float | None, str | None]:
    """(number, None), (None, "missing") for an empty cell, or (None, problem key)."""
    if _blank(value):
        return None, "pricing.problem.missing"
    if isinstance(value, bool):
        return None, "pricing.problem.not_a_number"
    if isinstance(value, Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None, "pricing.problem.not_a_number"
    else:
        return None, "pricing.problem.not_a_number"
    if not math.isfinite(number):
        return None, "pricing.problem.not_a_number"
    if number < 0:
        return None, "pricing.problem.negative"
    return number, None


def currency_code(value: Any) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip()
    upper = text.upper()
    if upper in CURRENCIES:
        return upper
    return CURRENCY_ALIASES.get(upper) or CURRENCY_ALIASES.get(text)


def token_count(value: Any) -> int:
    """A token (or image) count; None, negative or unreadable is 0."""
    if value is None or isinstance(value, bool):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) and number > 0 else 0


def _plain(value: float | None) -> str:
    """A number as written in the files: 5, 0.5, 0.0005 (never 5.0 or 5e-04)."""
    if value is None:
        return ""
    text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text or "0"


def _reason(err: Exception) -> str:
    return str(err).strip() or type(err).__name__


def _atomic_write(path: Path, text: str) -> None:
    write_text_atomic(path, text, newline="")  # the CSV text carries its own line ends


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=1)
def _shipped() -> PriceTable:
    prices, problems = parse_prices_csv(SHIPPED_PATH.read_text(encoding="utf-8"))
    if problems:  # a broken shipped file is a bug in the playground, caught by the tests
        raise ValueError(f"{SHIPPED_PATH}: {problems[0]}")
    return PriceTable(tuple(prices), DEFAULT_CNY_PER_USD)


@lru_cache(maxsize=8)
def _load_cached(data_dir: str, prices_stamp: Any, rate_stamp: Any) -> PriceTable:
    return PriceTable.load(Path(data_dir))
