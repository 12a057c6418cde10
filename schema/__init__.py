"""Pulse's GraphQL schema (PRODUCT.md §4): Strawberry types and thin resolvers over the read
models. ``build_schema()`` gives the executable schema; ``schema.context`` names the ports
infrastructure provides."""
