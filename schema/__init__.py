"""Pulse schema layer."""
