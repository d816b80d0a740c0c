"""Backends: one module per model provider behind the protocol in `backends.base`."""
