"""What Pulse serves to browsers: GraphiQL (offline), the live demo page and their assets.

* ``assets``: ``/assets/...`` (npm packages installed by ``make web``, Pulse's own static
  files, the frontend contract's operations) and the page shown when ``npm ci`` has not run.
* ``graphiql``: the GraphiQL page for a browser's GET ``/graphql``.
* ``demo_page``: ``/`` and ``/demo/tokens``, mounted by ``pulse demo`` only (imported by
  ``infrastructure.demo``, not here).
"""

from infrastructure.web.assets import WebAssets, asset_routes
from infrastructure.web.graphiql import graphiql_page

__all__ = ["WebAssets", "asset_routes", "graphiql_page"]
