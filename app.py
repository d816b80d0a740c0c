"""GLM Playground router: page config, navigation and the shared sidebar. Pages live in app_pages/.

The pages folder is not called `pages/`: Streamlit treats a `pages/` folder as the legacy multipage
mode, which runs a page without this router on a fresh server's first visit to a page URL and in
every AppTest rerun (streamlit#9446).
"""

import streamlit as st

from components.access_gate import require_access
from components.saved_conversation import restore_session
from components.sidebar import render_sidebar
from core.i18n import t

st.set_page_config(page_title="GLM Playground", page_icon=":material/science:", layout="wide")

require_access()  # a team deployment: no page, no sidebar, nothing restored before sign-in
restore_session()  # a refreshed page gets its conversation and sidebar choices back first
lang = render_sidebar()
page = st.navigation([
    st.Page("app_pages/chat.py", title=t("nav.chat", lang), icon=":material/chat:", url_path="chat",
            default=True),
    st.Page("app_pages/usage.py", title=t("nav.usage", lang), icon=":material/monitoring:", url_path="usage"),
    st.Page("app_pages/compare.py", title=t("nav.compare", lang), icon=":material/compare_arrows:",
            url_path="compare"),
    st.Page("app_pages/retrieval.py", title=t("nav.retrieval", lang), icon=":material/menu_book:",
            url_path="retrieval"),
    st.Page("app_pages/finetune.py", title=t("nav.finetune", lang), icon=":material/model_training:",
            url_path="finetune"),
])
page.run()
