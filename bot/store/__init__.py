"""Where conversations live: the Store contract and its SQLite and PostgreSQL homes."""
