"""The door of a team deployment, run by the router before any page.

On 127.0.0.1 with nothing configured the app is open, as on one's own machine. Reachable by
others (another interface, or through a proxy) with a server-side API key and no access
configured, it serves no page, only how to configure access. With access configured: a sign-in
with a shared or a personal password (this browser session only) or single sign-on (`st.login`).
Settings that cannot be used stop the app with the key to fix rather than serving it open.
"""

from __future__ import annotations

import logging
import math
import re
import time
import tomllib
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st
from streamlit import config as streamlit_config  # st.get_option, read at call time (tests patch it)

from components.identity import IDENTITY_KEY, OPEN, Identity, identity
from components.language import current_language, language_switch
from core import access
from core.access import (
    SERVER_KEY_ENVS,
    AccessConfig,
    AccessConfigError,
    Decision,
    Outcome,
    decide,
    is_loopback,
    load_access,
    oidc_ready,
    server_key_configured,
    sign_in,
)
from core.config import Settings
from core.i18n import t
from core.limits import load_limits
from core.markup import md as shown_name

SIGNED_KEY = "access.signed_in"  # {"user", "method", "since", "stamp"} after a password sign-in
NOTICE_KEY = "access.notice"  # (catalogue key, values): what the sign-in page says once
NAME_KEY, PASSWORD_KEY = "widget.access.name", "widget.access.password"
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Host")
log = logging.getLogger("playground.access")


def _read_secrets() -> tuple[dict[str, Any], str | None]:
    """The secrets, or the place a secrets file stops parsing ("line 4, column 7")."""
    try:
        return dict(st.secrets), None
    except Exception:
        pass
    for name in streamlit_config.get_option("secrets.files") or []:
        path = Path(name)
        if not path.is_file():
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            found = re.search(r"line \d+, column \d+", str(exc))
            return {}, f"{path.name}: {found.group(0) if found else type(exc).__name__}"
        except OSError:
            continue
    return {}, None  # no secrets file at all


def _exposed() -> bool:
    """Whether people on other machines can reach this app: it listens beyond loopback, or this
    visit came from another machine or through a reverse proxy."""
    if not is_loopback(streamlit_config.get_option("server.address")):
        return True
    try:
        client = st.context.ip_address
        if isinstance(client, str) and client and not is_loopback(client):
            return True
        headers = st.context.headers
        return any(headers.get(name) for name in PROXY_HEADERS)
    except Exception:
        return False


def _client() -> str:
    """Who tries a password, for the wait after wrong ones: the connection's address."""
    try:
        client = st.context.ip_address
    except Exception:
        return "local"
    return client if isinstance(client, str) and client else "local"


def require_access() -> Identity:
    """Serve nothing past this call until this browser session may use the app (st.stop)."""
    lang = current_language()
    secrets, broken = _read_secrets()
    if broken is not None:
        log.error("access: the secrets file cannot be read (%s); serving no page", broken)
        _stop_page(lang, "access.config.title", t("access.config.unparsable", lang, where=broken))
    settings = Settings.load(secrets)
    try:
        config = load_access(settings)
        load_limits(settings)
    except AccessConfigError as err:
        log.error("access: settings refused at %s (%s); serving no page", err.where, err.key)
        reason = t(err.key, lang, **err.params)
        _stop_page(lang, "access.config.title", t("access.config.fix", lang, where=err.where, reason=reason))
    decision = decide(config, _exposed(), server_key_configured(settings))
    if decision is Decision.OPEN:
        st.session_state[IDENTITY_KEY] = OPEN
        return OPEN
    if decision is Decision.NEEDS_CONFIG:
        names = ", ".join(name for name in SERVER_KEY_ENVS if settings.get(name))
        _stop_page(lang, "access.setup.title", t("access.setup.body", lang, names=names))
    found = _signed_in(config, lang)
    if found is not None:
        st.session_state[IDENTITY_KEY] = found
        return found
    st.session_state.pop(IDENTITY_KEY, None)
    _sign_in_page(config, lang)
    st.stop()


def _stop_page(lang: str, title_key: str, body: str) -> NoReturn:
    st.session_state.pop(IDENTITY_KEY, None)
    st.title(t(title_key, lang))
    st.markdown(body)
    st.stop()


def _signed_in(config: AccessConfig, lang: str) -> Identity | None:
    """This session's identity while its sign-in still holds; None (with a notice) otherwise."""
    if config.oidc:
        found = _oidc_identity(config, lang)
        if found is not None:
            return found
    record = st.session_state.get(SIGNED_KEY)
    if not isinstance(record, dict):
        return None
    user, method = str(record.get("user") or ""), str(record.get("method") or "")
    expired = time.time() - float(record.get("since") or 0) > config.session_hours * 3600
    if expired or not user or config.stamp(user, method) != record.get("stamp"):
        st.session_state.clear()  # whoever signs in next in this tab inherits nothing
        st.session_state[NOTICE_KEY] = ("access.expired" if expired else "access.changed", {})
        log.info("access: a sign-in of %s ended (%s)", user, "expired" if expired else "access changed")
        return None
    return Identity(user=user, method=method, admin=config.is_admin(user, method), required=True)


def _oidc_identity(config: AccessConfig, lang: str) -> Identity | None:
    try:
        logged_in = bool(st.user.get("is_logged_in"))
        email = str(st.user.get("email") or "")
    except Exception:
        return None
    if not logged_in:
        return None
    user = email.strip().lower()
    if not user or not config.email_allowed(user):
        log.warning("access: single sign-on of an account not allowed here")
        key = "access.oidc_not_allowed" if user else "access.oidc_no_email"
        st.title(t("access.title", lang))
        st.error(t(key, lang, email=shown_name(user)), icon=":material/block:")
        st.button(t("access.sign_out", lang), key="access.oidc_out", on_click=_sign_out_oidc)
        st.stop()
    return Identity(user=user, method="oidc", admin=config.is_admin(user, "oidc"), required=True)


# ---- the sign-in page -----------------------------------------------------------------------------
def _submit(config: AccessConfig, lang: str) -> None:
    name = st.session_state.get(NAME_KEY) or ""
    password = st.session_state.get(PASSWORD_KEY) or ""
    st.session_state[PASSWORD_KEY] = ""  # never kept, never sent back to the page
    client = _client()
    result = sign_in(config, name, password, client, access.LIMITER)  # one per process
    del password
    if result.outcome is Outcome.OK:
        stamp = config.stamp(result.user, result.method)
        st.session_state[SIGNED_KEY] = {"user": result.user, "method": result.method, "since": time.time(),
                                        "stamp": stamp}
        st.session_state.pop(NOTICE_KEY, None)
        log.info("access: %s signed in (%s password)", result.user, "own" if result.method == "user" else
                 "team")
        return
    who = result.user or (name.strip().lower() if result.known_name else "an unknown name")
    if result.outcome is Outcome.WAIT:
        st.session_state[NOTICE_KEY] = ("access.wait", {"seconds": math.ceil(result.wait_s)})
        log.warning("access: attempt for %s from %s refused, %.0f s to wait", who, client, result.wait_s)
    elif result.outcome is Outcome.BAD_NAME:
        st.session_state[NOTICE_KEY] = ("access.bad_name", {})
    else:
        st.session_state[NOTICE_KEY] = ("access.wrong", {"seconds": math.ceil(result.wait_s)})
        log.warning("access: wrong password for %s from %s", who, client)


def _sign_in_page(config: AccessConfig, lang: str) -> None:
    with st.container(width=480):
        language_switch()
        lang = current_language()
        st.title(t("access.title", lang))
        st.caption(t("access.subtitle", lang))
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            key, values = notice
            shown = st.info if key == "access.signed_out" else st.warning
            shown(t(key, lang, **values), icon=":material/lock:")
        if config.oidc:
            _sso_buttons(config, lang)
        if config.passwords:
            with st.form("access.form", border=True, enter_to_submit=True):
                label = "access.name_any" if config.shared_hash else "access.name"
                help_key = "access.name_any_help" if config.shared_hash else "access.name_help"
                st.text_input(t(label, lang), key=NAME_KEY, max_chars=64, help=t(help_key, lang),
                              autocomplete="username")
                st.text_input(t("access.password", lang), key=PASSWORD_KEY, type="password",
                              autocomplete="current-password")
                st.form_submit_button(t("access.sign_in", lang), type="primary", icon=":material/login:",
                                      on_click=_submit, args=(config, lang))


def _sso_buttons(config: AccessConfig, lang: str) -> None:
    if not oidc_ready():
        st.error(t("access.oidc_needs_authlib", lang), icon=":material/error:")
        return
    for provider in config.oidc_providers or (None,):
        label = t("access.sso_named", lang, provider=provider) if provider else t("access.sso", lang)
        st.button(label, key=f"access.sso.{provider or 'default'}", type="primary", icon=":material/badge:",
                  on_click=st.login, args=(provider,) if provider else ())
    if config.passwords:
        st.caption(t("access.or_password", lang))


# ---- who is signed in, and signing out (the sidebar) ---------------------------------------------
def _sign_out() -> None:
    ident = identity()
    log.info("access: %s signed out", ident.user)
    st.session_state.clear()  # the conversation, typed keys, everything of this session: gone at once
    st.query_params.clear()
    st.session_state[NOTICE_KEY] = ("access.signed_out", {})
    if ident.method == "oidc":
        st.logout()


def _sign_out_oidc() -> None:
    st.session_state.clear()
    st.logout()


def render_account(lang: str) -> None:
    """In the sidebar: who is signed in, and a button that ends this session's access at once."""
    ident = identity()
    if not ident.required:
        return
    role = "access.role_admin" if ident.admin else ("access.role_team" if ident.method == "shared" else "")
    text = t("access.signed_in_as", lang, user=shown_name(ident.user))
    st.caption(f"{text} {t(role, lang)}" if role else text)
    st.button(t("access.sign_out", lang), key="access.sign_out", icon=":material/logout:",
              on_click=_sign_out, type="secondary")
