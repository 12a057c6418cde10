"""Strawberry types of PRODUCT.md §4, each built from a read-model document."""
