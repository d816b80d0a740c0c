"""Baseline for the cold start: the chat page's kinds of widgets, without the playground's code.

Streamlit loads each kind of widget's browser code on first use, so a page with a chat input,
sliders, select boxes and text areas costs more to draw than a one-line app whatever its code
does; this app measures that part alone.
"""

import streamlit as st

with st.sidebar:
    st.segmented_control("Language", ["中文", "English"])
    st.selectbox("Backend", ["zhipu", "openai"])
    st.selectbox("Model", ["glm-4-plus", "glm-4-flash"])
    st.text_input("API key", type="password")
    with st.expander("Parameters", expanded=True):
        st.slider("Temperature", 0.0, 1.0, 0.95)
        st.slider("Top P", 0.01, 1.0, 0.7)
        st.toggle("do_sample", value=True)
        st.number_input("Max tokens", 1, 4095, 1024)
        st.text_area("Stop")
        st.button("Reset")
st.title("Chat")
st.caption("Zhipu GLM · glm-4-plus")
st.text_area("System message")
st.button("User message")
st.button("Run", type="primary")
st.toggle("Stream", value=True)
st.chat_input("Type a message and press Enter")
