"""Adapters: the world behind the service ports (database, broker, channels)."""
