"""Parley's platform-agnostic core: dialogue, memory, context and model backends."""
