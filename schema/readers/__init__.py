"""Read paths: what each query reads, filtered by the caller's visibility. Resolvers stay thin
and call these; nothing here reads Odoo or writes anything."""
