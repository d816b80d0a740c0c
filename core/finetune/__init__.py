"""Fine-tune data: datasets on disk, import of common formats, validation, statistics, export, jobs.

Pure Python (no Streamlit): the fine-tune page only lays these out.
"""
