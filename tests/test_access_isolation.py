"""Isolation between signed-in users: conversations have an owner (another's ?c= finds nothing), datasets
have an owner and a "shared with the team" switch, and the usage page shows a non-admin only their own."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.config import Settings
from core.conversation_store import ConversationStore
from core.errors import PlaygroundError
from core.finetune.dataset import DatasetStore, Example
from core.messages import Conversation, Role
from core.usage_ledger import Ledger, clear_ledger_cache
from tests.apptest_helpers import assert_ok, en, rendered_text, send, stored
from tests.test_access_gate import ALICE, HASHES, TEAM, make, run, serves_app, sign_in
from tests.test_usage_ledger import make_row

CID = "0123456789abcdef0123456789abcdef"
SECRETS = {"access": {"password_hash": HASHES["team"], "users": {"alice": HASHES["alice"]},
                      "admins": ["alice"]}}


def data_dir() -> Path:
    return Path(os.environ["PLAYGROUND_DATA_DIR"])


def signed_in(name: str, password: str = TEAM, query: dict[str, str] | None = None) -> AppTest:
    at = make(SECRETS)
    at.query_params.update(query or {})
    at = sign_in(run(at), name, password)
    assert serves_app(at)
    return at


def conv(text: str) -> Conversation:
    c = Conversation()
    c.add(Role.USER, text)
    return c


# ---- conversations --------------------------------------------------------------------------------
def test_a_conversation_is_found_only_by_its_owner(tmp_path: Path) -> None:
    alice, bob, nobody = (ConversationStore(tmp_path, owner) for owner in ("alice", "bob", ""))
    assert alice.save(CID, conv("alice's plan"))
    assert alice.load(CID).messages[0].content == "alice's plan"
    assert bob.load(CID) is None and nobody.load(CID) is None
    assert bob.held_elsewhere(CID) and nobody.held_elsewhere(CID) and not alice.held_elsewhere(CID)
    assert not bob.held_elsewhere("ffffffffffffffffffffffffffffffff")
    saved = json.loads((alice.root / f"{CID}.json").read_text(encoding="utf-8"))
    assert saved["owner"] == "alice" and alice.root.parent.name == "users"
    assert "alice" not in str(alice.root)  # the folder is a hash: no user id names a path
    # A file whose owner was changed by hand opens for nobody, not even in its folder's user.
    (alice.root / f"{CID}.json").write_text(json.dumps({**saved, "owner": "bob"}), encoding="utf-8")
    assert alice.load(CID) is None and bob.load(CID) is None


def test_another_users_conversation_link_shows_not_found_and_nothing_of_it(zhipu_env: Any) -> None:
    alice = signed_in("alice", ALICE)
    send(alice, "alice's secret plan")
    alice_cid = alice.query_params["c"]
    bob = signed_in("bob", query={"c": alice_cid})
    assert_ok(bob)
    assert en("access.conversation_not_found") in [w.value for w in bob.warning]
    assert stored(bob) == [] and bob.query_params["c"] != alice_cid
    assert "alice's secret plan" not in rendered_text(bob)  # nor in the sidebar's saved list
    send(bob, "bob's own")
    again = signed_in("alice", ALICE, query={"c": alice_cid})  # a refresh: alice gets hers back
    assert stored(again)[0] == ("user", "alice's secret plan")
    assert "bob's own" not in rendered_text(again)


# ---- datasets -------------------------------------------------------------------------------------
def test_datasets_have_an_owner_and_a_team_switch(tmp_path: Path) -> None:
    alice, bob, everyone = (DatasetStore(tmp_path, v) for v in ("alice", "bob", None))
    private = alice.create("alice private", [Example.single_turn("q", "a")])
    shared = alice.create("team set")
    alice.set_shared(shared.id, True)
    legacy = everyone.create("from before sign-in")
    assert {d.name for d in bob.list_datasets()} == {"team set", "from before sign-in"}
    assert {d.name for d in everyone.list_datasets()} == {"alice private", "team set", "from before sign-in"}
    assert bob.load(private.id) is None and bob.load(shared.id) is not None
    for action in (lambda: bob.rename(shared.id, "mine now"), lambda: bob.set_shared(shared.id, False),
                   lambda: bob.delete(shared.id), lambda: bob.rename(private.id, "x")):
        with pytest.raises(PlaygroundError):
            action()
    assert alice.load(shared.id).name == "team set"
    edited = bob.load(shared.id)  # a shared dataset is the team's to edit
    edited.examples.append(Example.single_turn("bob's q", "bob's a"))
    DatasetStore(tmp_path).save(edited)  # saved by a store without a viewer: ownership kept
    reread = alice.load(shared.id)
    assert (reread.owner, reread.shared, len(reread.examples)) == ("alice", True, 1)
    copy = bob.duplicate(shared.id, "bob's copy")
    assert (copy.owner, copy.shared) == ("bob", False) and alice.load(copy.id) is None
    bob.rename(legacy.id, "renamed by bob")  # no owner: the team's
    alice.set_shared(shared.id, False)
    assert bob.load(shared.id) is None and "team set" not in {d.name for d in bob.list_datasets()}
    alice.delete(private.id)
    assert everyone.load(private.id) is None


def test_the_finetune_page_lists_only_what_a_user_may_see(zhipu_env: Any) -> None:
    alice = DatasetStore(data_dir(), "alice")
    private = alice.create("alice private")
    shared = alice.create("team set")
    alice.set_shared(shared.id, True)
    bob = signed_in("bob", query={"d": private.id})
    bob.switch_page("app_pages/finetune.py").run()
    assert_ok(bob)
    assert en("access.dataset.not_found") in [w.value for w in bob.warning]
    picker = bob.selectbox(key="widget.ft.dataset")
    assert picker.options == [f"{en('finetune.dataset.option', name='team set', count=0)}"]
    assert "alice private" not in rendered_text(bob)
    assert en("access.dataset.shared_by", owner="alice") in [c.value for c in bob.caption]
    assert not bob.get("toggle") or all(t.key != "widget.ft.shared" for t in bob.toggle)
    owner = signed_in("alice", ALICE)
    owner.switch_page("app_pages/finetune.py").run()
    assert_ok(owner)
    switch = owner.toggle(key="widget.ft.shared")
    switch.set_value(True).run()
    opened = owner.selectbox(key="widget.ft.dataset").value
    assert DatasetStore(data_dir()).load(opened).shared is True


# ---- the usage page -----------------------------------------------------------------------------------
@pytest.fixture
def team_usage() -> None:
    clear_ledger_cache()
    now = datetime.now(UTC) - timedelta(minutes=5)
    ledger = Ledger.open(Settings.load())
    ledger.record_many([make_row(ts=now, user_id=user, total_tokens=tokens, prompt_tokens=tokens,
                                 completion_tokens=0)
                        for user, tokens in [("alice", 100), ("bob", 10), ("bob", 20), ("", 1000)]])
    ledger.close()
    clear_ledger_cache()


def usage(at: AppTest) -> AppTest:
    at.switch_page("app_pages/usage.py").run()
    assert_ok(at)
    return at


def metric(at: AppTest, key: str) -> str:
    return {m.label: m.value for m in at.metric}[en(key)]


def test_a_non_admin_sees_only_their_own_usage(llm: Any, team_usage: None) -> None:
    bob = usage(signed_in("bob"))
    assert metric(bob, "usage.metric.calls") == "2" and metric(bob, "usage.metric.tokens") == "30"
    assert en("access.usage.own_only", user="bob") in [c.value for c in bob.caption]
    assert en("access.usage.tab_users") not in [t.label for t in bob.tabs]
    assert all(m.key != "widget.usage.users" for m in bob.multiselect)
    assert all(b.key != "usage.recompute" for b in bob.button)  # re-pricing everyone's calls: admins
    assert "alice" not in rendered_text(bob)


def test_only_an_admin_changes_the_teams_prices(llm: Any, team_usage: None) -> None:
    bob = usage(signed_in("bob"))
    assert all(b.key not in ("pricing.save", "pricing.restore") for b in bob.button)
    view = next(d for d in bob.dataframe if "input_per_m" in d.value.columns)  # the prices, read only
    assert "glm-4-plus" in list(view.value["model"])
    assert en("access.prices.admin_only", rate="7.2") in [c.value for c in bob.caption]
    alice = usage(signed_in("alice", ALICE))
    assert {"pricing.save", "pricing.restore"} <= {b.key for b in alice.button}
    assert en("access.prices.admin_only", rate="7.2") not in [c.value for c in alice.caption]


def test_an_admin_sees_everyone_by_user(llm: Any, team_usage: None) -> None:
    alice = usage(signed_in("alice", ALICE))
    assert metric(alice, "usage.metric.calls") == "4"
    assert any(b.key == "usage.recompute" for b in alice.button)
    assert en("access.usage.tab_users") in [t.label for t in alice.tabs]
    table = next(d.value for d in alice.dataframe if en("access.usage.user") in d.value.columns)
    by_user = dict(zip(table[en("access.usage.user")], table[en("access.usage.total")], strict=True))
    assert by_user == {"alice": 100, "bob": 30, en("access.usage.user_none"): 1000}
    users = alice.multiselect(key="widget.usage.users")
    users.set_value(["bob"]).run()
    assert metric(alice, "usage.metric.calls") == "2"
