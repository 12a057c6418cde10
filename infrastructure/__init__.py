"""Pulse infrastructure layer."""
