# The two commands of the README. Both install what is missing first.
.PHONY: demo test lint bootstrap bootstrap-dev

# GRIDMAP_DEMO_PASSWORD=... make demo chooses the demo accounts' password (else one is printed once).
demo: bootstrap
	.venv/bin/gridmap demo

test: bootstrap-dev
	.venv/bin/python -m pytest

lint: bootstrap-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bootstrap:
	bash scripts/bootstrap.sh runtime

bootstrap-dev:
	bash scripts/bootstrap.sh dev
