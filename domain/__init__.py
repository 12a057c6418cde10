"""Pulse domain layer."""
