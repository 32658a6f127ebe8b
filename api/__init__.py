"""The tracker: a damas-core compatible HTTP API over the store (FastAPI)."""
