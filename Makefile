# Every target installs what it needs first: on a fresh machine `make demo` / `make test`
# are the whole quick start. uv is pinned and comes from PyPI into .tools/.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo serve test lint typecheck bench clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/pulse demo

serve: install
	$(VENV)/bin/pulse serve

test: install
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench.event_store_bench

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
