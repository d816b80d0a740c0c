"""The compare page's answers: every target streamed side by side, then timing, cost and a vote.

All columns are redrawn from one loop in the script thread (Streamlit widgets must be written from
it): one st.empty per column, refreshed from the targets' streams, which run in their own threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from components.compare_state import CompareState, Round, TargetChoice
from components.compare_targets import md
from components.error_box import show_error
from components.identity import limit_refusal
from components.usage_hook import Hook, call_context, chat_recorder, open_ledger, payer_of, price_of
from core.answer_stats import stats_line
from core.chat import ChatRequest
from core.compare.runner import CompareRun, RunTarget, TargetResult
from core.compare.translation import Translation
from core.i18n import t
from core.messages import Message, Role
from core.pricing_display import format_money

CURSOR = " ▌"
WAITING_REDRAW_S = 0.25  # how often a column still waiting for its first word says for how long


def recorder_factory(page: str = "compare") -> Callable[[RunTarget, ChatRequest], Hook]:
    """Each target's call goes to the usage ledger, as the chat's do; without a ledger it still runs."""
    ledger, price = open_ledger(), price_of()

    def make(target: RunTarget, request: ChatRequest) -> Hook:
        context = call_context(page, target.backend.id, target.endpoint.id, target.connection.base_url,
                               target.paid_by)
        return chat_recorder(ledger, context, request, price)

    return make


def run_targets(choices: list[TargetChoice], translations: list[Translation]) -> list[RunTarget]:
    """The columns as the runner takes them; one over its user's limit on the server's key is
    refused before anything is sent (a key the user typed is never limited)."""
    return [RunTarget(c.label, c.backend, c.endpoint, c.model_id, c.connection, dict(tr.values),
                      dict(tr.extra), refusal=limit_refusal(c.key_source), paid_by=payer_of(c.key_source))
            for c, tr in zip(choices, translations, strict=True)]


def run_round(state: CompareState, choices: list[TargetChoice], translations: list[Translation],
              messages: list[dict[str, Any]], lang: str) -> None:
    """Ask every target at once and stream them side by side; a Stop keeps what arrived."""
    run = CompareRun(run_targets(choices, translations), messages, price=price_of(),
                     recorder_for=recorder_factory())
    this = Round(len(state.rounds) + 1, messages, [c.label for c in choices], run.results,
                 [list(tr.changes) for tr in translations])
    st.button(t("compare.stop", lang), key="cmp.stop", icon=":material/stop_circle:",
              help=t("compare.stop_help", lang))
    columns = st.columns(len(choices))
    slots = []
    for column, choice in zip(columns, choices, strict=True):
        with column:
            st.markdown(f"**{md(choice.label)}**")
            slots.append((st.empty(), st.empty()))
    finished = False
    try:
        run.start()
        _stream(run, slots, lang)
        finished = True
    finally:
        if not run.done:
            run.stop()
        state.rounds.append(this)
    if finished:
        st.rerun()


def _stream(run: CompareRun, slots: list[tuple[Any, Any]], lang: str) -> None:
    drawn = [0] * len(slots)  # characters of each answer already on the page
    settled = [False] * len(slots)
    last_wait = 0.0
    while True:
        changed = run.poll()
        for i, result in enumerate(run.results):
            body, status = slots[i]
            if settled[i]:
                continue
            if not result.running:
                if result.text:
                    body.markdown(result.text)
                status.caption(_summary(result, lang))
                settled[i] = True
            elif len(result.text) != drawn[i]:
                if not drawn[i]:
                    status.empty()
                body.markdown(result.text + CURSOR)
                drawn[i] = len(result.text)
        if run.done:
            return
        now = time.perf_counter()
        if now - last_wait >= WAITING_REDRAW_S:  # also lets a Stop click interrupt a silent wait
            last_wait = now
            for i, result in enumerate(run.results):
                if result.running and not result.text:
                    slots[i][1].caption(t("chat.waiting_first", lang, seconds=now - run.started_at))
        if not changed:
            run.wait()


def _summary(result: TargetResult, lang: str) -> str:
    if result.outcome == "error" and result.error is not None and not result.text:
        return t("compare.failed", lang)
    return md(stats_line(result.stats, lang))


def cost_text(result: TargetResult, lang: str) -> str:
    if result.cost is not None and result.currency:
        return t("compare.cost", lang, cost=md(format_money(result.cost, result.currency)))
    if result.completion_tokens is not None:
        return t("compare.no_price", lang, model=md(result.model))
    return ""


def _vote(rnd: Round, index: int) -> None:
    rnd.winner = None if rnd.winner == index else index


def _continue(state: CompareState, result: TargetResult) -> None:
    """Keep this answer in the conversation: the next round goes on from it."""
    state.conv.messages.append(Message(Role.ASSISTANT, result.text, stats=result.stats,
                                       stopped=result.outcome != "ok"))


def render_last_round(state: CompareState, lang: str) -> None:
    """The latest round in columns: answer, stats, cost, error, vote."""
    if not state.rounds:
        return
    rnd = state.rounds[-1]
    st.subheader(t("compare.round_title", lang, number=rnd.number))
    columns = st.columns(len(rnd.results))
    for i, (column, result) in enumerate(zip(columns, rnd.results, strict=True)):
        with column, st.container(border=True):
            winner = rnd.winner == i
            st.markdown(f"**{md(rnd.labels[i])}**" + (f" · {t('compare.winner', lang)}" if winner else ""))
            if result.text:
                st.markdown(result.text)
            elif result.error is None:
                st.caption(t("chat.empty_answer", lang))
            caption = _summary(result, lang) if result.stats else ""
            cost = cost_text(result, lang)
            if caption or cost:
                st.caption(" · ".join(p for p in (caption, cost) if p))
            if result.error is not None:
                show_error(result.error, lang)
            row = st.container(horizontal=True)
            row.button(t("compare.voted" if winner else "compare.vote", lang),
                       key=f"cmp.vote.{rnd.number}.{i}", icon=":material/emoji_events:",
                       type="primary" if winner else "secondary", on_click=_vote, args=(rnd, i),
                       help=t("compare.vote_help", lang))
            if result.text:
                row.button(t("compare.continue", lang), key=f"cmp.continue.{rnd.number}.{i}",
                           icon=":material/reply:", on_click=_continue, args=(state, result),
                           help=t("compare.continue_help", lang))
    tally = votes(state.rounds)
    if tally:
        st.caption(t("compare.votes", lang, votes=md(", ".join(f"{k}: {v}" for k, v in tally.items()))))
    if len(state.rounds) > 1:
        with st.expander(t("compare.earlier", lang, count=len(state.rounds) - 1)):
            st.dataframe(rounds_table(state.rounds[:-1], lang), hide_index=True)


def votes(rounds: list[Round]) -> dict[str, int]:
    """Wins per target label over the rounds that have a winner."""
    tally: dict[str, int] = {}
    for rnd in rounds:
        if rnd.winner is not None:
            label = rnd.labels[rnd.winner]
            tally[label] = tally.get(label, 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]))


def rounds_table(rounds: list[Round], lang: str) -> list[dict[str, Any]]:
    rows = []
    for rnd in rounds:
        for i, result in enumerate(rnd.results):
            rows.append({
                t("compare.col.round", lang): rnd.number, t("compare.col.target", lang): rnd.labels[i],
                t("compare.col.winner", lang): "✓" if rnd.winner == i else "",
                t("compare.col.outcome", lang): result.outcome,
                t("compare.col.ttft", lang): _rounded(result.ttft_s),
                t("compare.col.total", lang): _rounded(result.latency_s),
                t("compare.col.speed", lang): _rounded(result.tokens_per_s, 1),
                t("compare.col.tokens", lang): result.completion_tokens,
                t("compare.col.cost", lang): format_money(result.cost, result.currency or "")
                if result.cost is not None else "",
                t("compare.col.answer", lang): result.text[:200],
            })
    return rows


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
