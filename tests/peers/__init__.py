"""Protocol peers the tests talk to on 127.0.0.1: OpenAI, Discord, Slack, the Hugging Face hub.

The large peers are packages split by role, as bolt-python's mock Web API server is: the
server (the aiohttp app on loopback), the handlers (one module per API area) and the recorded
requests (what the tests assert on); each package's `__init__` is its import surface.
"""
