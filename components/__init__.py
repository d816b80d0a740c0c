"""Reusable Streamlit widgets: the only layer besides app_pages/ that draws."""
