"""The Train section: upload the exported files to Zhipu, start a job, watch it, cancel it.

Uses the Zhipu key of the sidebar (typed there, or ZHIPUAI_API_KEY on the server). The upload and
job calls are not model calls, so they add nothing to the usage ledger; the estimated training
cost is shown before starting.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from backends.base import Connection
from backends.zhipu_finetune import KEY_ENVS, ZhipuFineTune
from components.backend_picker import endpoint_connection
from components.error_box import show_error
from components.finetune_export import exported, render_split
from components.finetune_state import Workspace, data_dir, md, problem_text, save, setting, show_problem
from core.errors import ErrorKind, PlaygroundError
from core.finetune.base_models import trainable_ids
from core.finetune.dataset import Dataset
from core.finetune.jobs import (
    Job,
    JobEvent,
    JobStore,
    cancel_job,
    check_hyperparameters,
    check_suffix,
    refresh_job,
    start_job,
)
from core.i18n import t

JOBS_KEY = "finetune.jobs"  # job id -> (Job, events, monotonic time of the last refresh)
ERROR_KEY = "finetune.train_error"  # a provider error from the last job action, shown in full
START_ERROR_KEY = "finetune.start_error"  # the same for the last start
PICK_KEY = "widget.ft.job"
POLL_S = 10.0
STATUS_COLOURS = {"succeeded": "green", "failed": "red", "cancelled": "gray", "running": "blue",
                  "queued": "orange", "validating_files": "orange", "create": "orange"}
FIELDS = {"train_model": "widget.ft.train_model", "epochs": "widget.ft.train_epochs",
          "batch_size": "widget.ft.batch", "lr_multiplier": "widget.ft.lr", "suffix": "widget.ft.suffix"}


def zhipu_connection() -> Connection:
    """The Zhipu key and URL the sidebar would use (a typed key first, then the server's)."""
    return endpoint_connection("zhipu", "zhipu")[0]


def _jobs() -> dict[str, tuple[Job, list[JobEvent], float]]:
    return st.session_state.setdefault(JOBS_KEY, {})


def _set(ws: Workspace, dataset: Dataset, name: str) -> None:
    dataset.settings[name] = st.session_state.get(FIELDS[name])
    save(ws, examples_changed=False)


def _fail(err: PlaygroundError, ws: Workspace, lang: str) -> None:
    if err.kind is ErrorKind.VALIDATION:
        ws.flash = ("error", "finetune.train.not_started", {"reason": problem_text(err, lang)})
    else:
        st.session_state[START_ERROR_KEY] = err


def _start(ws: Workspace, dataset: Dataset, lang: str) -> None:
    st.session_state.pop(START_ERROR_KEY, None)
    try:
        hyper = check_hyperparameters(setting(dataset, "epochs"), dataset.settings.get("batch_size"),
                                      dataset.settings.get("lr_multiplier"))
        suffix = check_suffix(dataset.settings.get("suffix"))
        result = exported(ws, dataset)
        service = ZhipuFineTune(zhipu_connection())
        model = str(dataset.settings.get("train_model") or trainable_ids()[0])
        record = start_job(service, JobStore(data_dir()), result, model, hyper, suffix, dataset.id,
                           dataset.name)
    except PlaygroundError as err:
        _fail(err, ws, lang)
        return
    st.session_state[PICK_KEY] = record.job_id
    _jobs().pop(record.job_id, None)
    ws.flash = ("success", "finetune.train.started", {"job": record.job_id, "count": record.train_examples})


def _refresh(ws: Workspace, job_id: str) -> None:
    st.session_state.pop(ERROR_KEY, None)
    try:
        job, events, registered = refresh_job(ZhipuFineTune(zhipu_connection()), JobStore(data_dir()), job_id)
    except PlaygroundError as err:
        st.session_state[ERROR_KEY] = err
        return
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
        return
    _jobs()[job_id] = (job, events, time.monotonic())
    if registered is not None:
        ws.flash = ("success", "finetune.train.model_ready", {"model": registered.id})


def _cancel(ws: Workspace, job_id: str) -> None:
    st.session_state.pop(ERROR_KEY, None)
    try:
        job = cancel_job(ZhipuFineTune(zhipu_connection()), JobStore(data_dir()), job_id)
    except PlaygroundError as err:
        st.session_state[ERROR_KEY] = err
        return
    events = _jobs().get(job_id, (job, [], 0.0))[1]
    _jobs()[job_id] = (job, events, time.monotonic())
    ws.flash = ("info", "finetune.train.cancelled", {"job": job_id})


def _bind(ws: Workspace, dataset: Dataset, name: str, default: Any) -> str:
    key = FIELDS[name]
    st.session_state[key] = dataset.settings.get(name, default) if name != "epochs" else int(
        setting(dataset, "epochs") or 0)
    return key


def _form(ws: Workspace, dataset: Dataset, lang: str) -> None:
    models = trainable_ids()
    if dataset.settings.get("train_model") not in models:
        dataset.settings["train_model"] = (setting(dataset, "base_model") if setting(dataset, "base_model")
                                           in models else models[0])
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.selectbox(t("finetune.train.model", lang), models, key=_bind(ws, dataset, "train_model", models[0]),
                  on_change=_set, args=(ws, dataset, "train_model"), width=220)
    row.number_input(t("finetune.train.epochs", lang), min_value=0, max_value=50,
                     key=_bind(ws, dataset, "epochs", 3), on_change=_set, args=(ws, dataset, "epochs"),
                     width=140, help=t("finetune.train.auto_help", lang))
    row.number_input(t("finetune.train.batch", lang), min_value=0, max_value=256,
                     key=_bind(ws, dataset, "batch_size", 0), on_change=_set,
                     args=(ws, dataset, "batch_size"), width=140, help=t("finetune.train.auto_help", lang))
    row.number_input(t("finetune.train.lr", lang), min_value=0.0, max_value=10.0, step=0.1, format="%.2f",
                     key=_bind(ws, dataset, "lr_multiplier", 0.0), on_change=_set,
                     args=(ws, dataset, "lr_multiplier"), width=180, help=t("finetune.train.lr_help", lang))
    row.text_input(t("finetune.train.suffix", lang), key=_bind(ws, dataset, "suffix", ""), max_chars=40,
                   on_change=_set, args=(ws, dataset, "suffix"), width=220,
                   help=t("finetune.train.suffix_help", lang))


def _status_badge(job: Job, lang: str) -> None:
    label = t(f"finetune.status.{job.status}", lang) if job.status in STATUS_COLOURS else job.status
    st.badge(label, color=STATUS_COLOURS.get(job.status, "gray"))  # type: ignore[arg-type]


def _when(stamp: int | None) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") if stamp else ""


def _job_view(ws: Workspace, job_id: str, lang: str) -> None:
    found = _jobs().get(job_id)
    if found is None:
        _refresh(ws, job_id)
        found = _jobs().get(job_id)
    error = st.session_state.get(ERROR_KEY)
    if error is not None:
        show_error(error, lang)
    if found is None:
        return
    job, events, _ = found
    head = st.container(horizontal=True, vertical_alignment="center")
    with head:
        _status_badge(job, lang)
        st.button(t("finetune.train.refresh", lang), key="ft.job_refresh", icon=":material/refresh:",
                  on_click=_refresh, args=(ws, job_id))
        if not job.finished:
            st.button(t("finetune.train.cancel", lang), key="ft.job_cancel", icon=":material/cancel:",
                      on_click=_cancel, args=(ws, job_id))
    if job.fine_tuned_model:
        st.success(t("finetune.train.model_line", lang, model=md(job.fine_tuned_model)),
                   icon=":material/model_training:")
        st.page_link("app_pages/chat.py", label=t("finetune.train.go_chat", lang), icon=":material/chat:")
    if job.error_message:
        st.error(t("finetune.train.job_failed", lang, reason=md(job.error_message),
                   code=md(job.error_code or "—")), icon=":material/error:")
    if job.trained_tokens:
        st.caption(t("finetune.train.trained_tokens", lang, tokens=f"{job.trained_tokens:,}"))
    rows = [{"time": _when(e.created_at), "level": e.level, "message": e.message,
             "metrics": ", ".join(f"{k}={v}" for k, v in e.metrics.items())} for e in events]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="ft.events",
                     column_config={"time": t("finetune.train.col_time", lang),
                                    "level": t("finetune.train.col_level", lang),
                                    "message": t("finetune.train.col_message", lang),
                                    "metrics": t("finetune.train.col_metrics", lang)})


def render_jobs(ws: Workspace, lang: str) -> None:
    records = JobStore(data_dir()).load()
    st.subheader(t("finetune.train.jobs", lang))
    if not records:
        st.caption(t("finetune.train.no_jobs", lang))
        return
    by_id = {r.job_id: r for r in records}
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state[PICK_KEY] = records[0].job_id
    st.selectbox(t("finetune.train.job", lang), list(by_id), key=PICK_KEY, width=560,
                 format_func=lambda j: t("finetune.train.job_option", lang, job=j, model=by_id[j].model,
                                         dataset=by_id[j].dataset_name, started=by_id[j].started_at[:16],
                                         status=t(f"finetune.status.{by_id[j].status}", lang)
                                         if by_id[j].status in STATUS_COLOURS else by_id[j].status))
    job_id = st.session_state[PICK_KEY]
    cached = _jobs().get(job_id)
    running = cached is None or not cached[0].finished

    @st.fragment(run_every=POLL_S if running else None)
    def watch() -> None:
        found = _jobs().get(job_id)
        if found is not None and not found[0].finished and time.monotonic() - found[2] >= POLL_S - 0.5:
            _refresh(ws, job_id)  # a tick of the timer: the page polls while the job runs
        _job_view(ws, job_id, lang)

    watch()


def render_train(ws: Workspace, dataset: Dataset, lang: str) -> None:
    conn = zhipu_connection()
    st.caption(t("finetune.train.help", lang))
    if not conn.api_key:
        st.info(t("finetune.train.no_key", lang, envs=", ".join(KEY_ENVS)), icon=":material/key:")
    else:
        _form(ws, dataset, lang)
        render_split(ws, dataset, lang)
        try:
            result = exported(ws, dataset)
        except PlaygroundError as err:
            show_problem(err, lang)
            result = None
        if result is not None:
            st.caption(t("finetune.train.summary", lang, train=result.train_count,
                         validation=result.validation_count, left_out=len(result.left_out)))
            st.button(t("finetune.train.start", lang), key="ft.train_start", type="primary",
                      icon=":material/model_training:", on_click=_start, args=(ws, dataset, lang))
            failed = st.session_state.get(START_ERROR_KEY)
            if failed is not None:  # nothing was started: the provider's reason, and its code
                show_error(failed, lang)
    render_jobs(ws, lang)
