"""GLM Playground router: page config, navigation and the shared sidebar. Pages live in pages/."""

import streamlit as st

from components.sidebar import render_sidebar
from core.i18n import t

st.set_page_config(page_title="GLM Playground", page_icon=":material/science:", layout="wide")

lang = render_sidebar()
page = st.navigation([
    st.Page("pages/chat.py", title=t("nav.chat", lang), icon=":material/chat:", url_path="chat",
            default=True),
])
page.run()
