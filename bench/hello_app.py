"""Cold-start baseline for bench/cold_start.py: the smallest Streamlit app."""

import streamlit as st

st.write("hello")
