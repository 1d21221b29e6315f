"""Tools the model may call: built in or from MCP servers; allowed per place, approved, audited."""
