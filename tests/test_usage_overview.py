"""Ledger.overview: the page's one grouped pass gives exactly what the separate queries give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.usage_ledger import Ledger, UsageFilter
from tests.test_usage_ledger import T0, _own_ledger_env  # noqa: F401 - fixture
from tests.test_usage_ledger_queries import ALL, ROWS, D, H, _PostgresCompiler

FILTERS = [ALL, UsageFilter(start=T0, end=T0 + 2 * D), UsageFilter(start=T0 + H, end=T0 + D + 3 * H),
           UsageFilter(backends=("zhipu",)), UsageFilter(models=("gpt-4o",)), UsageFilter(pages=("chat",)),
           UsageFilter(session_id="s2"), UsageFilter(start=T0 + 9 * D),
           UsageFilter(models=("glm-4-plus",), pages=("chat", "retrieval"))]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(f"sqlite:///{tmp_path / 'o.sqlite'}")
    assert led.record_many(ROWS) == len(ROWS)
    yield led
    led.close()


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("bucket", ["day", "hour"])
def test_overview_matches_the_separate_queries(ledger: Ledger, flt: UsageFilter, bucket: str) -> None:
    view = ledger.overview(flt, bucket)
    expected = ledger.summary(flt)
    for name in ("calls", "errors", "prompt_tokens", "completion_tokens", "total_tokens",
                 "estimated_calls", "latency_p50", "latency_p95", "ttft_p50", "ttft_p95"):
        assert getattr(view.summary, name) == getattr(expected, name), name
    assert view.summary.error_rate == pytest.approx(expected.error_rate)
    assert view.summary.cost_by_currency == pytest.approx(expected.cost_by_currency)
    assert list(view.summary.cost_by_currency) == list(expected.cost_by_currency)
    assert view.tokens_by_model == ledger.tokens_by_model(flt)
    assert view.outcomes == ledger.outcomes(flt)
    costs = ledger.cost_over_time(flt, bucket)
    assert [{k: v for k, v in r.items() if k != "cost"} for r in view.cost_over_time] == \
        [{k: v for k, v in r.items() if k != "cost"} for r in costs]
    assert [r["cost"] for r in view.cost_over_time] == pytest.approx([r["cost"] for r in costs])


def test_overview_of_nothing_and_a_bad_bucket(ledger: Ledger) -> None:
    view = ledger.overview(UsageFilter(models=("nope",)))
    assert view.summary.calls == 0 and view.summary.latency_p50 is None
    assert view.cost_over_time == view.tokens_by_model == view.outcomes == []
    with pytest.raises(ValueError):
        ledger.overview(ALL, "week")


@pytest.mark.parametrize("bucket", ["day", "hour"])
def test_overview_compiles_for_postgresql(bucket: str) -> None:
    from core.usage_overview import overview

    conn = _PostgresCompiler()
    overview(conn, UsageFilter(start=T0, end=T0 + D, backends=("zhipu",), models=("m",),
                               pages=("chat",), session_id="s"), bucket)  # type: ignore[arg-type]
    text = "\n".join(conn.sql)
    assert "likely(" not in text and f"GROUP BY usage_calls.{bucket}, usage_calls.model" in text
