"""The fine-tune job flow through the real zhipuai SDK against the fake server's files and
fine-tuning endpoints: upload, create, status and events, success, failures, cancel; errors in the
common vocabulary; the finished model registered for the chat page's model list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.base import Connection
from backends.glm_models import GLM_MODELS
from backends.openai_models import ENDPOINTS
from backends.zhipu import ZHIPU_ENDPOINT
from backends.zhipu_finetune import ZhipuFineTune
from components.finetune_models import fine_tuned_models
from core.errors import ErrorKind, PlaygroundError
from core.finetune.export import ExportResult, export_dataset
from core.finetune.jobs import (
    Hyperparameters,
    JobRequest,
    JobStore,
    cancel_job,
    check_hyperparameters,
    check_suffix,
    refresh_job,
    start_job,
)
from core.finetune.model_registry import FineTunedModel, load_models, model_ids, register_model
from core.finetune.validation import validate_records
from tests.fake_llm import FakeLLMServer
from tests.fake_llm.finetune_api import state


def conv(*pairs: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


RECORDS = [conv(("user", f"问题{i}"), ("assistant", f"回答{i}")) for i in range(10)]


@pytest.fixture
def ft(llm: FakeLLMServer) -> Iterator[FakeLLMServer]:
    state(llm).reset()
    yield llm
    state(llm).reset()


def service(llm: FakeLLMServer, key: str | None = "test.key") -> ZhipuFineTune:
    return ZhipuFineTune(Connection(llm.zhipu_base_url, key, timeout_s=5))


def exported(ratio: float = 0.2) -> ExportResult:
    return export_dataset(RECORDS, validate_records(RECORDS), ratio=ratio, seed=1)


def test_upload_create_watch_succeed_and_register(ft: FakeLLMServer, tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    result = exported()
    record = start_job(service(ft), store, result, "glm-4-flash", Hyperparameters(3, 8, 1.5), "demo",
                       "0123456789abcdef0123456789abcdef", "客服问答")
    files = state(ft).files
    assert [f["purpose"] for f in files.values()] == ["fine-tune", "fine-tune"]
    assert files[record.training_file]["content"] == result.train  # the bytes exported, as they are
    assert files[record.validation_file]["content"] == result.validation  # type: ignore[index]
    create = next(r for r in ft.requests if r["path"].endswith("/fine_tuning/jobs"))
    assert create["json"]["json"] == {
        "model": "glm-4-flash", "training_file": record.training_file,
        "validation_file": record.validation_file, "suffix": "demo",
        "hyperparameters": {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.5}}
    assert create["headers"]["authorization"] == "Bearer test.key"
    assert (record.status, record.train_examples, record.validation_examples) == ("validating_files", 8, 2)
    assert store.get(record.job_id).dataset_name == "客服问答"  # type: ignore[union-attr]

    statuses = []
    for _ in range(3):
        job, events, registered = refresh_job(service(ft), store, record.job_id)
        statuses.append(job.status)
    assert statuses == ["queued", "running", "succeeded"]
    assert job.fine_tuned_model and job.trained_tokens and job.finished
    assert registered == load_models(tmp_path)[0]
    assert registered.id == job.fine_tuned_model and registered.dataset == "客服问答"  # type: ignore[union-attr]
    assert events[0].message.startswith("Fine-tuning job succeeded")  # newest first
    assert any(e.metrics.get("loss") == 1.25 for e in events)
    assert store.get(record.job_id).status == "succeeded"  # type: ignore[union-attr]
    # a second look registers nothing new
    assert refresh_job(service(ft), store, record.job_id)[2] is None
    assert model_ids(tmp_path) == [job.fine_tuned_model]


def test_a_bad_training_file_fails_validation_with_the_line(ft: FakeLLMServer) -> None:
    svc = service(ft)
    file_id = svc.upload("train.jsonl", b'{"messages": []}\n{"prompt": "x"}\n')
    job = svc.create_job(JobRequest("glm-4-flash", file_id))
    failed = svc.retrieve(job.id)
    assert failed.status == "failed" and failed.finished
    assert failed.error_code == "invalid_training_file" and "line 2" in (failed.error_message or "")
    assert svc.events(job.id)[0].level == "error"


def test_training_can_fail_and_a_running_job_can_be_cancelled(ft: FakeLLMServer, tmp_path: Path) -> None:
    svc = service(ft)
    file_id = svc.upload("t.jsonl", exported(0).train)
    failing = svc.create_job(JobRequest("glm-4-flash", file_id, suffix="fail-me"))
    assert [svc.retrieve(failing.id).status for _ in range(3)] == ["queued", "running", "failed"]
    assert "loss" in (svc.retrieve(failing.id).error_message or "")

    store = JobStore(tmp_path)
    record = start_job(svc, store, exported(0), "glm-4-air", Hyperparameters(), None,
                       "fedcba9876543210fedcba9876543210", "x")
    cancelled = cancel_job(svc, store, record.job_id)
    assert cancelled.status == "cancelled" and store.get(record.job_id).status == "cancelled"  # type: ignore[union-attr]
    with pytest.raises(PlaygroundError) as caught:
        svc.cancel(record.job_id)  # already over
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and "cancelled" in caught.value.detail
    assert svc.events(record.job_id)[0].message == "Job cancelled by the user."
    listed = {(j.id, j.status) for j in svc.list_jobs()}
    assert listed == {(record.job_id, "cancelled"), (failing.id, "failed")}


@pytest.mark.parametrize(("scenario", "kind", "code"), [
    ("auth_401", ErrorKind.AUTH, "1002"), ("balance_1113", ErrorKind.QUOTA, "1113"),
    ("server_500", ErrorKind.SERVER_ERROR, "500"), ("overloaded_503", ErrorKind.RATE_LIMIT, "1305")])
def test_provider_errors_speak_the_common_vocabulary(ft: FakeLLMServer, scenario: str, kind: ErrorKind,
                                                     code: str) -> None:
    ft.queue(scenario)
    with pytest.raises(PlaygroundError) as caught:
        service(ft).upload("t.jsonl", b"{}\n")
    assert (caught.value.kind, caught.value.code) == (kind, code)
    assert not state(ft).files  # nothing was stored


def test_unknown_job_and_unreachable_server(ft: FakeLLMServer) -> None:
    with pytest.raises(PlaygroundError) as caught:
        service(ft).retrieve("ftjob-nope")
    assert caught.value.status == 404
    down = ZhipuFineTune(Connection("http://127.0.0.1:9/api/paas/v4", "k", timeout_s=2))
    with pytest.raises(PlaygroundError) as caught:
        down.upload("t.jsonl", b"{}\n")
    assert caught.value.kind is ErrorKind.UNREACHABLE


def test_missing_key_is_refused_before_any_call(ft: FakeLLMServer) -> None:
    with pytest.raises(PlaygroundError) as caught:
        service(ft, key=None)
    assert caught.value.kind is ErrorKind.MISSING_KEY and caught.value.params["envs"] == "ZHIPUAI_API_KEY"
    assert ft.requests == []


def test_hyperparameters_and_suffix_are_checked() -> None:
    assert check_hyperparameters(0, 0, 0) == Hyperparameters()  # 0 means auto
    assert check_hyperparameters(3, "16", 0.5).to_api() == {
        "n_epochs": 3, "batch_size": 16, "learning_rate_multiplier": 0.5}
    for args, key in (((51, 0, 0), "finetune.train.bad_epochs"), ((2.5, 0, 0), "finetune.train.bad_epochs"),
                      ((1, 1000, 0), "finetune.train.bad_batch"), ((1, 1, 11), "finetune.train.bad_lr"),
                      ((1, 1, -1), "finetune.train.bad_lr"), (("x", 1, 1), "finetune.train.not_a_number")):
        with pytest.raises(PlaygroundError) as caught:
            check_hyperparameters(*args)
        assert caught.value.params["key"] == key, args
    assert check_suffix("  ") is None and check_suffix("cs-v2_1") == "cs-v2_1"
    for bad in ("客服", "a b", "x" * 41):
        with pytest.raises(PlaygroundError):
            check_suffix(bad)


def test_registered_models_join_the_zhipu_model_lists(tmp_path: Path) -> None:
    assert fine_tuned_models(ZHIPU_ENDPOINT, tmp_path) == ()
    assert register_model(tmp_path, FineTunedModel("glm-4-flash-ft-cs-1", "glm-4-flash", "ftjob-1"))
    assert not register_model(tmp_path, FineTunedModel("glm-4-flash-ft-cs-1"))
    register_model(tmp_path, FineTunedModel(GLM_MODELS[0].id))  # a listed id is not offered twice
    by_id = {e.id: e for e in ENDPOINTS}
    assert [m.id for m in fine_tuned_models(ZHIPU_ENDPOINT, tmp_path)] == ["glm-4-flash-ft-cs-1"]
    assert [m.id for m in fine_tuned_models(by_id["zhipu_compat"], tmp_path)] == ["glm-4-flash-ft-cs-1"]
    assert fine_tuned_models(by_id["openai"], tmp_path) == ()
    assert fine_tuned_models(ZHIPU_ENDPOINT, tmp_path)[0].note == "finetune.model_note"
    (tmp_path / "finetune" / "models.json").write_text("{not json", encoding="utf-8")
    assert load_models(tmp_path) == [] and fine_tuned_models(ZHIPU_ENDPOINT, tmp_path) == ()


def test_job_store_survives_a_damaged_file(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps([{"job_id": "a"}, "junk"]), encoding="utf-8")
    assert store.load() == []  # rows it cannot read are skipped
