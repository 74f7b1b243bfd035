# make run   - set everything up (virtual environment, packages) and start the dashboard
# make test  - set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install browser clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements-dev.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# The end-to-end test drives Debian's Chromium (Playwright cannot download its own
# browser offline). Installed when missing and we may; otherwise that test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)); } || \
	  echo "chromium not installed: the browser test will be skipped"

run: install
	$(VENV)/bin/streamlit run app.py

test: install browser
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15

clean:
	rm -rf $(VENV) runs .pytest_cache
