# Ketang — `make run` serves the webhook and the scheduler; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 2

.PHONY: install run test bench config clean readme lint screenshots

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

config.toml:
	$(BIN)/python -m bot.config config.toml http://127.0.0.1:$(PORT)

config: install config.toml

# No access log: in plaintext mode a logged query string is a replayable signature.
run: install config.toml
	$(BIN)/flask --app app init-db
	$(BIN)/flask --app app info --local http://$(HOST):$(PORT)/wechat
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/flask --app app scheduler & \
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) 'app:create_app()'

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Figures, not tests: gunicorn on 127.0.0.1 driven by a separate load process (see bench/run.py).
# BENCH_DATABASE_URL=postgresql://... runs it on PostgreSQL; BENCH_ARGS="--runs 5" and so on.
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.warnings

# The README's pictures of the classroom screen and the grade book, from a real run on Debian's Chromium (docs/*.png).
screenshots: install
	$(BIN)/python -m scripts.screenshots
	$(BIN)/python -m scripts.gradebook_screenshot

clean:
	rm -rf $(VENV) .pytest_cache

readme: install
	$(BIN)/python -m handlers.commands

lint: install
	$(BIN)/ruff check .
