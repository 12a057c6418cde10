"""Event store adapters: MongoDB (production and the embedded store) and in-memory (unit tests)."""
