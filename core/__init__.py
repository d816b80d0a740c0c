"""Pure-Python core of the playground: no Streamlit here, everything testable from a shell."""
