"""Retrieval: documents into chunks, BM25 and dense search, prompt templates, evaluation. No Streamlit."""
