"""Parley's doors: each translates one platform's events into core types and renders replies."""
