"""Loading a local model: found once per process, device and dtype chosen, and every bad input a
clear PlaygroundError (the app keeps running, nothing the user typed is touched)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from backends.local import LOCAL_ENDPOINT, LoadSpec, LocalBackend, LocalConnection
from backends.local import loader as loader_module
from backends.local.cache import ModelCache
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from tests.tiny_glm import build_native, tiny_glm_fixture, tiny_remote_fixture  # noqa: F401 - fixtures


def refused(spec: LoadSpec, key: str) -> PlaygroundError:
    """Loading `spec` fails with the catalogue entry `key`; its English and Chinese texts are filled."""
    with pytest.raises(PlaygroundError) as caught:
        ModelCache().load(spec)
    err = caught.value
    assert err.kind is ErrorKind.VALIDATION and err.params["key"] == key, err
    for lang in ("en", "zh"):
        fix = explain(err, lang).fix
        assert fix and "{" not in fix and not fix.startswith("local."), fix
    return err


def test_a_missing_folder_is_named_in_the_message(tmp_path: Path) -> None:
    err = refused(LoadSpec(str(tmp_path / "glm-4-9b-chat-hf")), "local.error.not_found")
    assert str(tmp_path / "glm-4-9b-chat-hf") in explain(err, "en").fix


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"x")
    refused(LoadSpec(str(file)), "local.error.not_a_folder")


@pytest.mark.parametrize("files", [(), ("config.json",), ("model.safetensors", "training_args.bin")])
def test_a_folder_without_weights(tmp_path: Path, files: tuple[str, ...]) -> None:
    for name in files:
        (tmp_path / name).write_text("{}")
    err = refused(LoadSpec(str(tmp_path)), "local.error.no_weights")
    assert str(tmp_path) in explain(err, "en").fix
    assert err.detail == "files: " + (", ".join(sorted(files)) or "none")


def test_a_hugging_face_id_that_cannot_be_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    err = refused(LoadSpec("THUDM/no-such-model-here"), "local.error.hub_unavailable")
    assert "THUDM/no-such-model-here" in explain(err, "en").fix


def test_a_remote_code_model_needs_the_opt_in(tiny_remote_dir: Path) -> None:
    err = refused(LoadSpec(str(tiny_remote_dir)), "local.error.remote_code_needed")
    text = explain(err, "en").fix
    assert "tiny_chatglm" in text and "Allow this model's own code to run" in text
    assert "允许运行模型自带的代码" in explain(err, "zh").fix


def test_an_unknown_model_type_without_code(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "not_a_real_type"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    err = refused(LoadSpec(str(tmp_path)), "local.error.unknown_model_type")
    assert "not_a_real_type" in explain(err, "en").fix


def test_a_model_without_a_chat_template(tiny_glm_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(tiny_glm_dir, tmp_path / "base-model")
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("chat_template", None)
    config_file.write_text(json.dumps(config))
    refused(LoadSpec(str(folder)), "local.error.no_chat_template")


def test_cuda_asked_for_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    err = refused(LoadSpec("/anything", device="cuda"), "local.error.no_cuda")
    assert "CPU" in explain(err, "en").fix


@pytest.mark.parametrize("failure", [
    lambda: __import__("torch").OutOfMemoryError("CUDA out of memory. Tried to allocate 18.00 GiB"),
    lambda: MemoryError(),
    lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory"),
])
def test_out_of_memory_while_loading(tiny_glm_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                     failure: Any) -> None:
    """Memory cannot be exhausted on purpose here: from_pretrained raises what torch raises then."""
    import transformers

    def too_big(*args: Any, **kwargs: Any) -> Any:
        raise failure()

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", too_big)
    err = refused(LoadSpec(str(tiny_glm_dir)), "local.error.oom_loading")
    assert "bfloat16" in explain(err, "en").fix and "cpu" in explain(err, "en").fix


def test_the_device_and_dtype_follow_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert loader_module.resolve_dtype("cpu", "auto") == "float32"
    assert loader_module.resolve_dtype("cpu", "bfloat16") == "bfloat16"  # an explicit choice is kept
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert loader_module.resolve_dtype("cuda", "auto") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert loader_module.resolve_dtype("cuda", "auto") == "float16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert loader_module.resolve_device("auto") == "cuda" and loader_module.resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert loader_module.resolve_device("auto") == "cpu"


def test_several_gpus_get_device_map_auto() -> None:
    assert loader_module.placement("cuda", 4) == {"device_map": "auto"}
    assert loader_module.placement("cuda", 1) == {"device_map": "cuda"}
    assert loader_module.placement("cpu", 0) == {}


def test_loaded_once_per_process_however_it_is_spelled(tiny_glm_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                       ) -> None:
    calls: list[LoadSpec] = []
    real = loader_module.load_model

    def counting(spec: LoadSpec, progress: Any = None) -> Any:
        calls.append(spec)
        return real(spec, progress)

    monkeypatch.setattr(loader_module, "load_model", counting)
    cache = ModelCache()
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.load(LoadSpec(str(tiny_glm_dir)))))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(calls) == 1 and len(results) == 3 and all(r is results[0] for r in results)
    assert calls[0] == LoadSpec(str(tiny_glm_dir.resolve()), "cpu", "float32", False)
    same = cache.load(LoadSpec(str(tiny_glm_dir) + "/", device="cpu", dtype="float32"))
    assert same is results[0] and len(calls) == 1
    assert cache.get(LoadSpec(str(tiny_glm_dir), device="auto")) is same
    assert cache.for_model(str(tiny_glm_dir)) is same


def test_progress_is_reported_while_loading(tiny_glm_dir: Path) -> None:
    steps: list[str] = []
    loaded = ModelCache().load(LoadSpec(str(tiny_glm_dir)), lambda key, values: steps.append(key))
    assert steps == ["local.step.checking", "local.step.tokenizer", "local.step.weights", "local.step.done"]
    assert loaded.load_s > 0 and loaded.parameters > 0 and loaded.context_window == 2048


def test_unload_frees_the_model(tiny_glm_dir: Path) -> None:
    cache = ModelCache()
    spec = LoadSpec(str(tiny_glm_dir))
    cache.load(spec)
    assert cache.unload(spec) == 1 and cache.get(spec) is None and cache.loaded() == []
    assert cache.unload(spec) == 0


def test_a_bad_model_in_a_chat_is_an_error_record_not_a_crash(tmp_path: Path) -> None:
    backend = LocalBackend(models=ModelCache())
    messages = [{"role": "user", "content": "hello"}]
    request = backend.prepare(LOCAL_ENDPOINT, str(tmp_path / "missing"), messages, {})
    rec = backend.open_stream(request, LOCAL_ENDPOINT, LocalConnection(base_url="local")).collect()
    assert rec.outcome == "error" and rec.error is not None and not rec.text
    assert rec.error.params["key"] == "local.error.not_found"
    assert messages == [{"role": "user", "content": "hello"}]


def test_a_native_folder_may_bring_code_it_does_not_need(tmp_path: Path) -> None:
    """GLM-4-9B-chat-hf keeps an auto_map of older code; transformers knows glm4: no opt-in asked."""
    folder = build_native(tmp_path / "with-auto-map")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}
    (folder / "config.json").write_text(json.dumps(config))
    loaded = ModelCache().load(LoadSpec(str(folder)))
    assert loaded.mode == "generate" and loaded.architecture == "Glm4ForCausalLM"
