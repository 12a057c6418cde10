"""The GraphiQL page at GET ``/graphql`` (a browser's request), with every file served by Pulse.

The page loads React, ReactDOM and GraphiQL's UMD bundles and its stylesheet from
``/assets/vendor`` and Pulse's own ``graphiql.js`` (an ES module) which builds the fetcher:
queries and mutations are POSTed with the headers of GraphiQL's *Headers* tab, and
subscriptions run over ``graphql-transport-ws`` with the ``graphql-ws`` client, sending the
tab's ``Authorization`` header in the ``connection_init`` payload (PRODUCT.md §5).

The headers tab starts with a template to paste a token into. Without the npm packages the
page says how to install them (``missing_assets_page``).
"""

from __future__ import annotations

import html
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from infrastructure.web.assets import GRAPHIQL_FILES, WebAssets, asset_url, missing_assets_page

TOKEN_PLACEHOLDER = "<paste a token here>"
HEADERS_TEMPLATE = json.dumps({"Authorization": f"Bearer {TOKEN_PLACEHOLDER}"}, indent=2)

WELCOME_QUERY = """\
# Pulse GraphiQL, served by Pulse itself (works offline).
#
# 1. Headers tab (below): replace <paste a token here>
#    with a token. `pulse demo` prints some, and
#    `pulse token EMAIL [--admin]` mints one.
# 2. Run: Ctrl-Enter or the play button.
# 3. Subscriptions run over graphql-transport-ws, with
#    the same Authorization header in connection_init:
#    subscription { dashboardUpdated { asOf } }
#    (the same button stops one).
#
# Errors carry extensions.code: UNAUTHENTICATED,
# FORBIDDEN, BAD_USER_INPUT, NOT_FOUND or INTERNAL.

query MyDashboard {
  viewer {
    name
    email
  }
  dashboard {
    scope
    asOf
    metrics {
      openCount
      pipelineValue
      weightedPipelineValue
      winRate
    }
  }
}
"""


def graphiql_page(request: Request, assets: WebAssets, graphql_path: str) -> Response:
    missing = assets.missing(GRAPHIQL_FILES)
    if missing:
        return missing_assets_page("GraphiQL", missing)
    root = str(request.scope.get("root_path", "")).rstrip("/")
    config = {
        "graphqlPath": f"{root}{graphql_path}",
        "headersTemplate": HEADERS_TEMPLATE,
        "defaultQuery": WELCOME_QUERY,
    }
    # JSON inside <script>: "</" must not end the element early.
    config_json = json.dumps(config).replace("</", "<\\/")

    def src(path: str) -> str:
        return html.escape(asset_url(request, path), quote=True)

    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pulse GraphiQL</title>
<link rel="stylesheet" href="{src("vendor/graphiql/graphiql.min.css")}">
<link rel="stylesheet" href="{src("pulse/graphiql.css")}">
<script id="pulse-graphiql-config" type="application/json">{config_json}</script>
<script src="{src("vendor/react/react.production.min.js")}"></script>
<script src="{src("vendor/react-dom/react-dom.production.min.js")}"></script>
<script src="{src("vendor/graphiql/graphiql.min.js")}"></script>
</head>
<body>
<div id="graphiql" role="main">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
<script type="module" src="{src("pulse/graphiql.js")}"></script>
</body>
</html>
"""
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
