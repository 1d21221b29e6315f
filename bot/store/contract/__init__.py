"""The store contract, one protocol per concern; a caller depends on the one it uses."""
