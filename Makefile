# The two commands: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test console call install lint typecheck pytest rasa-venv train bench bench-voice clean

run: install
	$(PY) -m bot serve

console: install
	$(PY) -m bot console

test: install lint typecheck pytest

install: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh scripts/apt-packages.txt scripts/prepare_models.py
	bash scripts/bootstrap.sh $(VENV)
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install rasa-venv
	SPEECH_REQUIRE_ENGINES=1 $(VENV)/bin/pytest

# Rasa Open Source 3.6 in its own Python 3.10 venv (.venv-rasa) for the real-Rasa tests; built
# once (about 2 minutes), then a no-op. Exit code 3: no Python 3.10 here, the tests skip.
rasa-venv:
	@bash scripts/rasa_venv.sh .venv-rasa || [ $$? -eq 3 ]

train: install
	$(PY) -m bot train

bench: install
	$(PY) -m bot nlu bench

bench-voice: install
	$(PY) -m bot bench voice

call: install
	$(PY) -m bot call --say "хочу сделать заказ" --say "артикул один два три" \
		--say "две штуки" --say "да" --say "нет" --say "да" --out var/calls/demo

clean:
	rm -rf $(VENV) models/nlu var
