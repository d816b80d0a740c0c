"""Reusable Streamlit widgets: the only layer besides pages/ that draws."""
