"""AppTest: the Compare & migrate page on the fake server, from a run to votes, variables and presets."""

from __future__ import annotations

import csv
import io

import pytest

from components.compare_state import new_target
from core.compare.presets import Preset, PresetStore, TargetSetup, encode_url
from core.config import Settings
from core.usage_ledger import ledger_for
from core.usage_schema import UsageFilter
from tests.apptest_helpers import assert_ok, click, en, errors, rendered_text, start
from tests.compare_helpers import (
    OPENAI_KEY,
    ZHIPU_KEY,
    ask,
    both_env,
    last_results,
    open_compare,
    state,
)
from tests.fake_llm import FakeLLMServer

PRESET_BACKENDS = {"zhipu": ("zhipu",), "openai": ("openai", "zhipu_compat", "dashscope", "custom"),
                   "chatglm_http": ("chatglm",), "local": ("local",)}


@pytest.fixture
def both(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    return both_env(llm, monkeypatch)


def markdowns(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.value for m in at.main.markdown]


def captions(at) -> list[str]:  # type: ignore[no-untyped-def]
    """The captions as read (notes escape Markdown: top\\_p is shown as top_p)."""
    return [c.value.replace("\\", "") for c in at.main.caption]


def test_two_targets_answer_side_by_side(both: FakeLLMServer) -> None:
    at = open_compare()
    targets = state(at).targets
    assert [(t["backend"], t["endpoint"][t["backend"]]) for t in targets] == [("zhipu", "zhipu"),
                                                                             ("openai", "custom")]
    ask(at, "hello there")
    a, b = last_results(at)
    assert (a.outcome, a.text, b.outcome, b.text) == ("ok", "Echo: hello there", "ok", "Echo: hello there")
    assert markdowns(at).count("Echo: hello there") == 2
    lines = [c for c in captions(at) if "first token" in c]
    assert len(lines) == 2 and all("cost" in c for c in lines), lines
    assert {r["json"]["model"] for r in both.requests} == {"glm-4-plus", "gpt-4o"}
    rows = ledger_for(Settings.load()).rows(UsageFilter(), limit=10, offset=0)  # every call is recorded
    assert sorted((r.page, r.model) for r in rows) == [("compare", "glm-4-plus"), ("compare", "gpt-4o")]
    text = rendered_text(at)
    assert ZHIPU_KEY not in text and OPENAI_KEY not in text


def test_a_target_without_a_key_says_how_to_fix_and_the_other_answers(zhipu_env: FakeLLMServer) -> None:
    at = open_compare()
    assert state(at).targets[1]["endpoint"]["openai"] == "openai"  # GPT, and no OPENAI_API_KEY
    ask(at, "hi")
    a, b = last_results(at)
    assert a.outcome == "ok" and a.text == "Echo: hi"
    assert b.outcome == "error" and b.error.kind.value == "missing_key"
    assert any("OPENAI_API_KEY" in e for e in errors(at))
    assert len(zhipu_env.requests) == 1  # nothing was sent without a key


def test_a_target_failing_mid_stream_keeps_its_text_and_the_other_finishes(both: FakeLLMServer) -> None:
    at = open_compare()
    both.queue("ok")
    both.queue("drop_mid_stream", after=1)
    ask(at, "one two three four")
    results = last_results(at)
    assert sorted(r.outcome for r in results) == ["error", "ok"]
    broken = next(r for r in results if r.outcome == "error")
    assert broken.text == "Echo: " and broken.error.kind.value == "stream_broken"
    assert any(en("error.stream_broken.title") in e for e in errors(at))
    assert "Echo: one two three four" in markdowns(at)


def test_an_unreachable_target_fails_alone(both: FakeLLMServer) -> None:
    at = open_compare()
    target = state(at).targets[1]
    target["base_url"] = {k: "http://127.0.0.1:9/v1" for k in target["base_url"]}
    at.run()
    ask(at, "hi")
    a, b = last_results(at)
    assert a.outcome == "ok" and b.outcome == "error" and b.error.kind.value == "unreachable"


def test_each_column_gets_its_translated_request_and_says_what_changed(both: FakeLLMServer) -> None:
    at = open_compare()
    source = state(at).source
    source.update(top_p=0.0, presence_penalty=0.5, stop=["###", "END"])
    at.run()
    notes = " ".join(captions(at))
    assert "top_p 0 is not accepted by GLM" in notes
    assert "presence_penalty is not supported by GLM: dropped" in notes
    assert 'GLM takes one stop word: kept the first ("###")' in notes
    ask(at, "hi")
    sent = {r["json"]["model"]: r["json"] for r in both.requests}
    assert sent["glm-4-plus"]["top_p"] == 0.01 and "presence_penalty" not in sent["glm-4-plus"]
    assert sent["glm-4-plus"]["stop"] == ["###"]
    assert sent["gpt-4o"]["top_p"] == 0.0 and sent["gpt-4o"]["presence_penalty"] == 0.5
    assert sent["gpt-4o"]["stop"] == ["###", "END"]


def test_vote_continue_and_a_second_round(both: FakeLLMServer) -> None:
    at = open_compare()
    ask(at, "first")
    click(at, "cmp.vote.1.1")
    assert state(at).rounds[-1].winner == 1
    assert any(c.startswith("Votes so far: B · gpt-4o: 1") for c in captions(at))
    click(at, "cmp.continue.1.0")
    assert [m.role.value for m in state(at).conv.messages] == ["user", "assistant"]
    ask(at, "second")
    assert len(state(at).rounds) == 2
    assert [m["content"] for m in both.requests[-1]["json"]["messages"]] == ["first", "Echo: first", "second"]
    click(at, "cmp.vote.2.0")
    click(at, "cmp.vote.2.0")  # a second click takes the vote back
    assert state(at).rounds[-1].winner is None and state(at).rounds[0].winner == 1


def test_migration_view_marks_the_changed_lines(both: FakeLLMServer) -> None:
    at = open_compare()
    ask(at, "hi")
    codes = [c.value for c in at.code if "# ←" in c.value]
    gpt, glm = codes
    assert 'api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"),  # ← changed: API key' in gpt
    assert 'model="glm-4-plus",  # ← changed: model' in glm
    # The zhipuai SDK target sends temperature and top_p 1 as 0.99: two more lines.
    assert any(c.startswith("5 lines change") for c in captions(at))
    assert any(c.value.startswith("--- gpt.py") for c in at.code)


def test_variables_run_every_case_on_every_target(both: FakeLLMServer) -> None:
    at = open_compare()
    st = state(at)
    st.conv.system = "You answer for {{city}}."
    from core.messages import Role

    st.conv.add(Role.USER, "Weather in {{city}} for {{day}}?")
    at.run()
    key = f"cmp.cases.{state(at).cases_version}"
    at.session_state[key] = {"edited_rows": {0: {"city": "北京", "day": "Monday"}},
                             "added_rows": [{"city": "Paris"}], "deleted_rows": []}
    at.run()
    assert state(at).cases == [{"city": "北京", "day": "Monday"}, {"city": "Paris", "day": ""}]
    warning = " ".join(w.value for w in at.warning)
    assert "case 2, day" in warning
    assert at.button(key="cmp.run_cases").disabled
    click(at, "cmp.run")  # a single run with a blank variable is refused, not sent with {{day}} in it
    assert any("fill them in under Prompt variables" in e for e in errors(at))
    assert not both.requests
    at.session_state[key] = {"edited_rows": {0: {"city": "北京", "day": "Monday"}},
                             "added_rows": [{"city": "Paris", "day": "Friday"}], "deleted_rows": []}
    at.run()
    click(at, "cmp.run_cases")
    cells = state(at).grid
    assert len(cells) == 4 and all(c.outcome == "ok" for c in cells)
    assert {c.output for c in cells} == {"Echo: Weather in 北京 for Monday?",
                                         "Echo: Weather in Paris for Friday?"}
    systems = {r["json"]["messages"][0]["content"] for r in both.requests}
    assert systems == {"You answer for 北京.", "You answer for Paris."}
    frame = at.dataframe[-1].value
    assert list(frame.iloc[:, 0]) == [1, 2]
    assert at.get("download_button")  # the CSV export is offered
    from core.compare.variables import grid_csv

    rows = list(csv.DictReader(io.StringIO(grid_csv(cells, ["city", "day"], state(at).grid_cases)
                                           .decode("utf-8-sig"))))
    assert [(r["case"], r["city"]) for r in rows] == [("1", "北京"), ("1", "北京"), ("2", "Paris"),
                                                      ("2", "Paris")]


def test_presets_save_and_load_on_the_compare_page(both: FakeLLMServer) -> None:
    at = open_compare()
    st = state(at)
    st.conv.system = "Be brief."
    st.source["temperature"] = 0.4
    at.run()
    at.text_input(key="preset.compare.name").set_value("demo").run()
    click(at, "preset.compare.save")
    store = PresetStore(Settings.load().data_dir, PRESET_BACKENDS)
    saved = store.load("demo")
    assert saved.system == "Be brief." and saved.params["temperature"] == 0.4
    assert [t.model for t in saved.targets] == ["glm-4-plus", "gpt-4o"]
    st.conv.system = "changed"
    st.source["temperature"] = 1.5
    st.targets[1] = new_target("openai", "zhipu_compat", "glm-4-air")
    at.run()
    click(at, "preset.compare.load")
    st = state(at)
    assert st.conv.system == "Be brief." and st.source["temperature"] == 0.4
    assert [t["endpoint"][t["backend"]] for t in st.targets] == ["zhipu", "custom"]
    assert any("Loaded the preset “demo”" in s.value for s in at.success)
    click(at, "preset.compare.delete")
    assert store.names() == []


def test_a_shared_link_opens_the_page_with_its_preset(both: FakeLLMServer) -> None:
    preset = Preset("shared", "openai", "zhipu_compat", "glm-4-air", params={"temperature": 0.2},
                    system="From a link", messages=[{"role": "user", "content": "hello"}],
                    targets=[TargetSetup("openai", "zhipu_compat", "glm-4-air"),
                             TargetSetup("zhipu", "zhipu", "glm-4-flash")])
    at = start()
    at.query_params["preset"] = encode_url(preset)
    at.switch_page("app_pages/compare.py").run()
    assert_ok(at)
    st = state(at)
    assert st.conv.system == "From a link" and [m.content for m in st.conv.messages] == ["hello"]
    second = st.targets[1]
    assert second["model"] == {f"cmp.{second['id']}.zhipu/zhipu": "glm-4-flash"}
    assert "preset" not in at.query_params  # loaded once: a refresh keeps later edits


def test_a_damaged_link_says_so_and_the_page_still_works(both: FakeLLMServer) -> None:
    at = start()
    at.query_params["preset"] = "damaged!!"
    at.switch_page("app_pages/compare.py").run()
    assert_ok(at)
    assert any("damaged" in e for e in errors(at))
    ask(at, "hi")
    assert all(r.outcome == "ok" for r in last_results(at))


def test_chat_page_presets_load_model_parameters_and_conversation(both: FakeLLMServer) -> None:
    store = PresetStore(Settings.load().data_dir, PRESET_BACKENDS)
    store.save(Preset("glm air", "openai", "zhipu_compat", "glm-4-air",
                      params={"temperature": 1.5, "presence_penalty": 0.5},
                      system="You are terse.", messages=[{"role": "user", "content": "hi"}]))
    at = start()
    click(at, "preset.chat.load")
    from components.backend_picker import SETTINGS_KEY

    picker = at.session_state[SETTINGS_KEY]
    assert picker["backend"] == "openai" and picker["endpoint"]["openai"] == "zhipu_compat"
    assert picker["model"]["openai/zhipu_compat"] == "glm-4-air"
    assert picker["params"]["openai/zhipu_compat"]["temperature"] == 1.0  # GLM takes 0 to 1
    conv = at.session_state["chat.conversation"]
    assert conv.system == "You are terse." and [m.content for m in conv.messages] == ["hi"]
    success = " ".join(s.value for s in at.success)
    assert "presence_penalty is not supported by GLM" in success
    assert at.sidebar.selectbox(key="widget.backend").value == "openai"


def test_the_page_reads_in_chinese(both: FakeLLMServer) -> None:
    at = open_compare("zh-CN")
    assert at.title[0].value == "对比与迁移"
    ask(at, "你好")
    assert all(r.outcome == "ok" for r in last_results(at))
    stats = [c for c in captions(at) if c.startswith(("glm-4-plus · 首 token", "gpt-4o · 首 token"))]
    assert len(stats) == 2 and all("费用" in c for c in stats), stats
    assert "**目标 A**" in markdowns(at)


def test_a_refreshed_page_gets_its_setup_back(both: FakeLLMServer) -> None:
    at = open_compare()
    assert not (Settings.load().data_dir / "compare").exists()  # an untouched page writes nothing
    state(at).source["temperature"] = 0.3
    ask(at, "remember this")
    setup_id = at.query_params["cmp"]
    setup_id = setup_id[0] if isinstance(setup_id, list) else setup_id
    saved = Settings.load().data_dir / "compare" / f"{setup_id}.json"
    assert saved.exists() and OPENAI_KEY not in saved.read_text() and ZHIPU_KEY not in saved.read_text()
    fresh = start()  # a new browser session opening the same URL
    fresh.query_params["cmp"] = setup_id
    fresh.switch_page("app_pages/compare.py").run()
    assert_ok(fresh)
    restored = state(fresh)
    assert [m.content for m in restored.conv.messages] == ["remember this"]
    assert restored.source["temperature"] == 0.3
    assert [t["backend"] for t in restored.targets] == ["zhipu", "openai"]


def _upload(at, name: str, data: bytes):  # type: ignore[no-untyped-def]
    uploader = next(u for u in at.file_uploader if str(u.key).startswith("preset.compare.upload"))
    uploader.set_value((name, data, "application/json")).run()
    assert_ok(at)
    return at


def test_importing_a_preset_file_loads_and_keeps_it(both: FakeLLMServer) -> None:
    preset = Preset("", "openai", "zhipu_compat", "glm-4-air", params={"temperature": 0.2},
                    system="Imported", messages=[{"role": "user", "content": "hi"}])
    at = open_compare()
    _upload(at, "from-a-colleague.json", preset.to_json().replace('"name": ""', '"name": null').encode())
    st = state(at)
    assert st.conv.system == "Imported" and st.source["temperature"] == 0.2
    assert st.targets[0]["model"] == {f"cmp.{st.targets[0]['id']}.openai/zhipu_compat": "glm-4-air"}
    assert PresetStore(Settings.load().data_dir, PRESET_BACKENDS).names() == ["from-a-colleague"]


def test_a_bad_preset_file_says_why_and_loses_nothing(both: FakeLLMServer) -> None:
    at = open_compare()
    ask(at, "keep me")
    _upload(at, "broken.json", b'{"backend": "openai", "model": ')
    assert any("not valid JSON (line 1" in e for e in errors(at))
    _upload(at, "gemini.json", b'{"name": "g", "backend": "gemini"}')
    assert any("“gemini”" in e and "zhipu, openai" in e for e in errors(at))
    assert [m.content for m in state(at).conv.messages] == ["keep me"]
    assert len(state(at).rounds) == 1
