"""core/finetune export, statistics and training cost: only valid examples exported, a reproducible
split, Chinese kept readable, an export that imports back identical; counts and prices by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import PlaygroundError
from core.finetune.export import export_dataset, split_lines, to_jsonl
from core.finetune.formats import import_json_bytes
from core.finetune.stats import dataset_stats, spread
from core.finetune.training_cost import (
    USER_FILE,
    estimate_cost,
    load_prices,
    price_for,
    save_price,
)
from core.finetune.validation import validate_records
from core.pricing import Price, PriceTable


def conv(*pairs: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


RECORDS = [conv(("system", "你是老师"), ("user", f"第{i}题怎么做？"), ("assistant", f"答案是{i}。"))
           for i in range(1, 21)]


def test_export_keeps_only_valid_examples_and_counts_the_rest() -> None:
    records = [*RECORDS[:3], conv(("user", "no answer")), "not an object", RECORDS[3]]
    result = export_dataset(records, validate_records(records))
    assert result.left_out == [4, 5]
    assert result.train_lines == [1, 2, 3, 6] and result.validation is None
    lines = result.train.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [*RECORDS[:3], RECORDS[3]]


def test_export_is_utf8_with_chinese_as_itself() -> None:
    data = to_jsonl([RECORDS[0]])
    assert "你是老师".encode() in data and b"\\u" not in data
    assert data == (json.dumps(RECORDS[0], ensure_ascii=False) + "\n").encode("utf-8")


def test_export_then_import_gives_identical_examples() -> None:
    records = [*RECORDS, conv(("user", "引号 \" 反斜杠 \\ 换行\n表情 😀"), ("assistant", "ok\ttab"))]
    result = export_dataset(records, validate_records(records), ratio=0.25, seed=7)
    back = import_json_bytes(result.train).examples + import_json_bytes(result.validation or b"").examples
    by_line = dict(zip(result.train_lines + result.validation_lines, back, strict=True))
    assert [by_line[n].record for n in sorted(by_line)] == records
    whole = export_dataset(records, validate_records(records))
    assert [e.record for e in import_json_bytes(whole.train).examples] == records


def test_split_is_reproducible_by_seed_and_sized_by_ratio() -> None:
    lines = list(range(1, 101))
    train, validation = split_lines(lines, 0.1, seed=42)
    assert len(validation) == 10 and len(train) == 90
    assert sorted(train + validation) == lines and train == sorted(train)
    assert split_lines(lines, 0.1, seed=42) == (train, validation)
    assert split_lines(lines, 0.1, seed=43)[1] != validation
    assert split_lines(lines, 0.0, seed=1) == (lines, [])
    assert split_lines([1, 2], 0.01, seed=1)[1] != [] and split_lines([5], 0.5, seed=1) == ([5], [])
    with pytest.raises(PlaygroundError) as caught:
        split_lines(lines, 0.6, seed=1)
    assert caught.value.params["key"] == "finetune.export.bad_ratio"


def test_nothing_valid_to_export_is_refused() -> None:
    records = [conv(("user", "only a question"))]
    with pytest.raises(PlaygroundError) as caught:
        export_dataset(records, validate_records(records))
    assert caught.value.params["key"] == "finetune.export.nothing_valid"


def test_statistics_by_hand() -> None:
    records = [conv(("user", "你好"), ("assistant", "你好！")),  # 2+4, 3+4 -> 13 tokens, answer 3
               conv(("system", "s"), ("user", "abcdefgh"), ("assistant", "abcd")),  # 5, 6, 5 -> 16; 1
               conv(("user", "问" * 10), ("assistant", "答" * 20), ("user", "再问"), ("assistant", "好")),
               "broken"]
    found = dataset_stats(records, limit=30)
    assert found.examples == 4 and found.measured == 3
    assert [e.tokens for e in found.per_example] == [13, 16, 49]  # 14 + 24 + 6 + 5
    assert [e.assistant_tokens for e in found.per_example] == [3, 1, 21]
    assert found.messages == spread([2, 3, 4]) and found.messages.median == 3  # type: ignore[union-attr]
    assert found.tokens.max == 49 and found.tokens.p90 == 49  # type: ignore[union-attr]
    assert found.without_system == 2 and found.over_limit == 1
    assert found.total_tokens == 78 and found.tokens_of([1, 3]) == 62
    assert spread([]) is None
    assert spread(list(range(1, 11))) == spread([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert spread(list(range(1, 11))).p90 == 9  # type: ignore[union-attr]  # nearest rank


def test_training_prices_shipped_saved_and_from_the_price_table(tmp_path: Path) -> None:
    shipped = load_prices(tmp_path)
    assert shipped["glm-4-flash"].per_m is None  # not known: the page asks for it
    assert shipped["gpt-4o-mini-2024-07-18"].per_m == 3.0
    assert all(p.source and p.date for p in shipped.values())  # every row says where it comes from
    empty_table = PriceTable(())
    unknown = price_for("glm-4-flash", tmp_path, empty_table)
    assert unknown is not None and unknown.per_m is None
    saved = save_price(tmp_path, "glm-4-flash", "6", "rmb", "quote from sales")
    assert (saved.per_m, saved.currency, saved.origin) == (6.0, "CNY", "saved")
    assert "glm-4-flash,CNY,6,quote from sales" in (tmp_path / USER_FILE).read_text(encoding="utf-8")
    assert price_for("glm-4-flash-250414", tmp_path, empty_table).per_m == 6.0  # a dated snapshot
    table = PriceTable((Price("glm-4-air", "CNY", 0.5, 0.5, training_per_m=50.0, source="list"),))
    from_table = price_for("glm-4-air", tmp_path, table)
    assert (from_table.per_m, from_table.origin) == (50.0, "price_table")  # type: ignore[union-attr]
    assert price_for("no-such-model", tmp_path, empty_table) is None
    for bad in ("-1", "abc"):
        with pytest.raises(PlaygroundError) as caught:
            save_price(tmp_path, "glm-4-air", bad, "CNY")
        assert caught.value.params["key"] == "finetune.cost.bad_price"
    with pytest.raises(PlaygroundError):
        save_price(tmp_path, "glm-4-air", "1", "EUR")


def test_cost_estimate_is_tokens_times_epochs_times_price(tmp_path: Path) -> None:
    price = save_price(tmp_path, "glm-4-flash", 5, "CNY")
    estimate = estimate_cost(200_000, 3, price)
    assert estimate.training_tokens == 600_000
    assert estimate.amount == pytest.approx(3.0) and estimate.currency == "CNY"
    assert estimate_cost(1000, 2, None).amount is None
