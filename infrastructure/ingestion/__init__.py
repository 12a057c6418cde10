"""Adapters for ingestion: snapshot store, sync-run repository (MongoDB and in-memory)."""
