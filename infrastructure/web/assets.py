"""Browser assets, served by Pulse itself: nothing is loaded from a CDN at run time.

Three sources, each under ``/assets/``:

* ``/assets/vendor/<package>/<file>``: files of a few npm packages (GraphiQL, React,
  ReactDOM, the ``graphql-ws`` client), read from ``frontend-contract/node_modules``, which
  ``make web`` fills with ``npm ci`` from the committed ``package-lock.json``. Only the
  directories listed in ``VENDOR_DIRS`` are reachable, and only their top-level files.
* ``/assets/pulse/<file>``: Pulse's own page scripts and styles (``infrastructure/web/static``),
  plain ES modules and CSS: no build step.
* ``/assets/operations/<name>.graphql``: the frontend contract's operations, as committed, so
  the demo page sends exactly what a frontend sends.

When the npm packages are missing, the pages that need them answer with an HTML page that
says how to install them (``missing_assets_page``) instead of a blank screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DIR = ROOT / "frontend-contract"
STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_PREFIX = "/assets"
INSTALL_COMMAND = "make web"
INSTALL_COMMAND_NPM = "cd frontend-contract && npm ci"

#: URL name -> directory inside ``node_modules`` whose top-level files are served.
VENDOR_DIRS: dict[str, str] = {
    "react": "react/umd",
    "react-dom": "react-dom/umd",
    "graphiql": "graphiql",
    "graphql-ws": "graphql-ws/dist",
}

#: The files each page cannot work without (``package/file`` under ``/assets/vendor``).
GRAPHIQL_FILES = (
    "react/react.production.min.js",
    "react-dom/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
    "graphql-ws/client.js",
)
DEMO_FILES = ("graphql-ws/client.js",)

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SERVED_SUFFIXES = {".js", ".css", ".map", ".svg"}
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class WebAssets:
    """Where the browser files live; tests point ``node_modules`` elsewhere."""

    node_modules: Path = CONTRACT_DIR / "node_modules"
    static_dir: Path = STATIC_DIR
    operations_dir: Path = CONTRACT_DIR / "operations"

    def vendor_file(self, package: str, name: str) -> Path | None:
        directory = VENDOR_DIRS.get(package)
        if directory is None or not _servable(name):
            return None
        path = self.node_modules / directory / name
        return path if path.is_file() else None

    def static_file(self, name: str) -> Path | None:
        if not _servable(name):
            return None
        path = self.static_dir / name
        return path if path.is_file() else None

    def operation_file(self, name: str) -> Path | None:
        if not _OPERATION_NAME.match(name):
            return None
        path = self.operations_dir / f"{name}.graphql"
        return path if path.is_file() else None

    def missing(self, files: Iterable[str]) -> list[str]:
        """The ``package/file`` names among ``files`` that are not installed."""
        absent = []
        for entry in files:
            package, _, name = entry.partition("/")
            if self.vendor_file(package, name) is None:
                absent.append(entry)
        return absent


def _servable(name: str) -> bool:
    return bool(_FILE_NAME.match(name)) and Path(name).suffix in _SERVED_SUFFIXES


def asset_url(request: Request, path: str) -> str:
    """An absolute path to an asset that honours the app's ``root_path``."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{ASSETS_PREFIX}/{path}"


def _file(path: Path, *, immutable: bool) -> Response:
    # Vendor files only change with package-lock.json; Pulse's own files on every edit.
    cache = "public, max-age=3600" if immutable else "no-cache"
    return FileResponse(
        path, media_type=_MEDIA_TYPES.get(path.suffix), headers={"Cache-Control": cache}
    )


def _not_found(what: str) -> Response:
    return PlainTextResponse(f"Not found: {what}", status_code=404)


def asset_routes(assets: WebAssets) -> list[BaseRoute]:
    async def vendor(request: Request) -> Response:
        package, name = request.path_params["package"], request.path_params["name"]
        path = assets.vendor_file(package, name)
        if path is None:
            if package in VENDOR_DIRS and assets.missing([f"{package}/{name}"]):
                return PlainTextResponse(
                    f"{package}/{name} is not installed: run `{INSTALL_COMMAND}` "
                    f"(or `{INSTALL_COMMAND_NPM}`).",
                    status_code=404,
                )
            return _not_found(f"{package}/{name}")
        return _file(path, immutable=True)

    async def static(request: Request) -> Response:
        path = assets.static_file(request.path_params["name"])
        return _file(path, immutable=False) if path else _not_found(request.url.path)

    async def operation(request: Request) -> Response:
        path = assets.operation_file(request.path_params["name"])
        if path is None:
            return _not_found(request.url.path)
        return FileResponse(
            path, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    return [
        Route(f"{ASSETS_PREFIX}/vendor/{{package}}/{{name}}", vendor, methods=["GET", "HEAD"]),
        Route(f"{ASSETS_PREFIX}/pulse/{{name}}", static, methods=["GET", "HEAD"]),
        Route(f"{ASSETS_PREFIX}/operations/{{name}}.graphql", operation, methods=["GET", "HEAD"]),
    ]


def missing_assets_page(title: str, missing: Iterable[str]) -> HTMLResponse:
    """What a browser shows instead of a blank page when ``npm ci`` has not run."""
    items = "".join(f"<li><code>{html.escape(m)}</code></li>" for m in missing)
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: browser files not installed</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; color: #1a1a1a; background: #fff;
         max-width: 46rem; margin: 3rem auto; padding: 0 1rem; }}
  code, pre {{ font-family: ui-monospace, monospace; background: #f1f3f5; }}
  pre {{ padding: .75rem 1rem; border-radius: 4px; overflow-x: auto; }}
  h1 {{ font-size: 1.5rem; }}
</style>
</head>
<body>
<main>
<h1>{html.escape(title)} needs its browser files</h1>
<p>Pulse serves GraphiQL, React and the <code>graphql-ws</code> client itself (nothing comes
from a CDN), from the npm packages pinned in <code>frontend-contract/package-lock.json</code>.
They are not installed on this machine yet. From the repository root, run:</p>
<pre>{html.escape(INSTALL_COMMAND)}</pre>
<p>or, equivalently, <code>{html.escape(INSTALL_COMMAND_NPM)}</code> (Node.js 20+ and npm),
then reload this page. <code>make demo</code> and <code>make test</code> do it for you.</p>
<p>Missing files:</p>
<ul>{items}</ul>
</main>
</body>
</html>
"""
    # 200: a browser renders the body either way, and this page is the answer a person needs.
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})
