"""What a training run would cost: training tokens x epochs x the model's training price.

Training prices are kept apart from core/pricing.py's table, in the same spirit: a shipped CSV
(`core/data/training_prices.csv`, with the source and date of every row; empty where the price
is not known) and the user's own rows in `<data dir>/training_prices.csv`, which win. A price
typed on the fine-tune page is saved there. When neither has a number, a `training_per_m`
filled in the main price table (Usage & cost page) is used.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.atomic_file import write_text_atomic
from core.errors import ErrorKind, PlaygroundError
from core.pricing import CURRENCIES, MILLION, PriceTable, _file_stamp, currency_code, match_model

SHIPPED_PATH = Path(__file__).resolve().parents[1] / "data" / "training_prices.csv"
USER_FILE = "training_prices.csv"
COLUMNS: tuple[str, ...] = ("model", "currency", "training_per_m", "source", "date")


@dataclass(frozen=True)
class TrainingPrice:
    model: str
    currency: str
    per_m: float | None  # per 1M training tokens; None: not known
    source: str = ""
    date: str = ""
    origin: str = "shipped"  # shipped | saved | price_table


@dataclass(frozen=True)
class CostEstimate:
    tokens_per_epoch: int
    epochs: int
    price: TrainingPrice | None

    @property
    def training_tokens(self) -> int:
        return self.tokens_per_epoch * self.epochs

    @property
    def amount(self) -> float | None:
        if self.price is None or self.price.per_m is None:
            return None
        return self.training_tokens * self.price.per_m / MILLION

    @property
    def currency(self) -> str | None:
        return self.price.currency if self.price else None


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_training_csv(text: str, origin: str) -> list[TrainingPrice]:
    """The usable rows of a training price CSV (a row without a model or currency is skipped)."""
    rows: list[TrainingPrice] = []
    for record in csv.DictReader(io.StringIO(text)):
        model = (record.get("model") or "").strip()
        currency = currency_code(record.get("currency"))
        if not model or currency is None:
            continue
        raw = (record.get("training_per_m") or "").strip()
        rows.append(TrainingPrice(model, currency, _number(raw) if raw else None,
                                  (record.get("source") or "").strip(), (record.get("date") or "").strip(),
                                  origin))
    return rows


def load_prices(data_dir: Path) -> dict[str, TrainingPrice]:
    """Shipped rows, overridden model by model by the user's saved rows; keyed by lower-case id.
    The files are read again only when they change (cheap enough for every rerun)."""
    path = Path(data_dir) / USER_FILE
    return dict(_load_cached(str(path), _file_stamp(SHIPPED_PATH), _file_stamp(path)))


@lru_cache(maxsize=8)
def _load_cached(path: str, shipped_stamp: Any, saved_stamp: Any) -> dict[str, TrainingPrice]:
    shipped = parse_training_csv(SHIPPED_PATH.read_text(encoding="utf-8"), "shipped")
    out = {p.model.lower(): p for p in shipped}
    try:
        saved = parse_training_csv(Path(path).read_text(encoding="utf-8-sig"), "saved")
    except (OSError, UnicodeDecodeError):
        saved = []
    out.update({p.model.lower(): p for p in saved})
    return out


def price_for(model: str, data_dir: Path, table: PriceTable | None = None) -> TrainingPrice | None:
    """The training price of `model`: a saved or shipped training row with a number, else the main
    price table's `training_per_m`, else the row without a number (unknown), else None."""
    if not model or not model.strip():
        return None
    found = match_model(model, load_prices(data_dir).values(), lambda price: price.model)
    if found is not None and found.per_m is not None:
        return found
    table = table if table is not None else PriceTable.load_cached(Path(data_dir))
    row = table.find(model)
    if row is not None and row.training_per_m is not None:
        return TrainingPrice(model, row.currency, row.training_per_m, row.source, row.date, "price_table")
    return found


def save_price(data_dir: Path, model: str, per_m: Any, currency: Any, source: str = "") -> TrainingPrice:
    """Keep the user's training price for `model` in `<data dir>/training_prices.csv` (atomically)."""
    model = (model or "").strip()
    number = _number(per_m)
    code = currency_code(currency)
    if not model:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "finetune.cost.no_model"})
    if number is None:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "finetune.cost.bad_price",
                                                            "value": str(per_m)})
    if code is None:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "finetune.cost.bad_currency",
                                                            "choices": " / ".join(CURRENCIES)})
    path = Path(data_dir) / USER_FILE
    try:
        rows = parse_training_csv(path.read_text(encoding="utf-8-sig"), "saved")
    except (OSError, UnicodeDecodeError):
        rows = []
    price = TrainingPrice(model, code, number, source.strip() or "typed on the fine-tune page",
                          date.today().isoformat(), "saved")
    rows = [r for r in rows if r.model.lower() != model.lower()] + [price]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r.model, r.currency, "" if r.per_m is None else f"{r.per_m:g}", r.source, r.date])
    write_text_atomic(path, out.getvalue())
    return price


def estimate_cost(tokens_per_epoch: int, epochs: int, price: TrainingPrice | None) -> CostEstimate:
    return CostEstimate(max(0, int(tokens_per_epoch)), max(1, int(epochs)), price)
