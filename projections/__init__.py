"""Pulse projections layer."""
