"""The compare & migrate page's logic: parameter translation, code, presets, variables, the runner."""
