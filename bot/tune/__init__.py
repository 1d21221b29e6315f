"""`parley tune`: train a model of your own on Parley's conversations and feedback."""
