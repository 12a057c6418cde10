# Every target installs what it needs first: on a fresh machine `make demo` / `make test`
# are the whole quick start. uv is pinned and comes from PyPI into .tools/.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install web codegen demo serve test lint typecheck bench clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

install: $(VENV)/.installed

# Browser files (GraphiQL, React, graphql-ws) and the frontend tooling (graphql-codegen,
# TypeScript, playwright-core), from frontend-contract/package-lock.json. Re-run only when
# the package files change: after that, everything works offline.
WEB := frontend-contract
$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	touch $@

web: $(WEB)/node_modules/.installed

# Regenerate frontend-contract/generated/graphql.ts after a schema or operation change.
codegen: web
	cd $(WEB) && npm run codegen

demo: install web
	$(VENV)/bin/pulse demo

serve: install web
	$(VENV)/bin/pulse serve

test: install web
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules
