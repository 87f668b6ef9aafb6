# jupyter-cvops developer entry points. Everything installs itself on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTHON ?= $(shell command -v python3.11 || command -v python3)
ARCH := $(shell uname -m)
STAMP := $(VENV)/.cvops-setup
DEMO_WS ?= demo-workspace

ifeq ($(ARCH),aarch64)
TORCH := torch==2.9.1 torchvision==0.24.1
else
TORCH := torch==2.14.1 torchvision==0.29.1
endif

# Tests check our CVAT / Label Studio output with the tools' own readers. Both pin older numpy, opencv,
# pandas, pillow and pyarrow than ours, so they go in without their pins and their other dependencies
# by name (nothing of ours is downgraded; `pip check` lists the pins).
CHECKERS := label-studio-sdk==2.1.2 datumaro==1.13.12
CHECKER_DEPS := appdirs datamodel-code-generator doclang httpx ijson jsf jsonschema lxml nltk pydantic \
  pyjwt requests requests-mock typer ujson watchfiles xmljson attrs cachetools defusedxml imagesize \
  json-stream orjson pycocotools ruamel.yaml shapely

.PHONY: setup demo lab test test-fast browser-deps bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[test]"
	$(PIP) install -q --no-deps $(CHECKERS)
	$(PIP) install -q $(CHECKER_DEPS)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/jupyter-builder develop --overwrite . >/dev/null
	@touch $(STAMP)

browser-deps:
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

demo: setup
	rm -rf $(DEMO_WS)
	$(VENV)/bin/cvops demo $(DEMO_WS) --model

lab: setup
	$(VENV)/bin/jupyter lab example_notebooks

# Everything but the browser tests on every core (a test file stays on one worker: module fixtures are
# built once), then the browser tests one at a time (each drives a JupyterLab, a kernel and Chromium).
test: setup browser-deps
	$(VENV)/bin/pytest -q -p no:cacheprovider -n auto --dist loadfile -m "not browser" --durations=25
	$(VENV)/bin/pytest -q -p no:cacheprovider -m browser --durations=10 tests/browser

test-fast: setup
	$(VENV)/bin/pytest -q -m "not browser and not slow"

bench: setup
	$(PIP) install -q "dvc>=3"
	$(PY) bench/bench_register.py
	$(PY) bench/bench_register.py --n 1000000   # 100k and 1M beside their floors; images cached in ~/.cache
	$(PY) bench/bench_agreement.py
	$(PY) bench/bench_drift.py
	$(PY) bench/bench_embed.py
	$(PY) bench/bench_imgstats.py   # imgstats images/s per core beside the decode-only floor (target >= 30%)
	$(PY) bench/bench_ray.py   # ws.embed(engine="ray") on this machine vs in-process (target >= 0.8x); 16-GPU estimate
	$(PY) bench/bench_predictions.py
	$(PY) bench/bench_models.py
	$(PIP) install -q papermill
	$(PY) bench/bench_recipes.py   # cvops retrain vs papermill, same notebook; fast verify at 10k images
	$(PY) bench/bench_audit.py   # ws.audit() at 1M images + 1M predictions (generated once, cached in ~/.cache)
	$(PY) bench/bench_shadow.py   # ws.shadow(logged=True) over 100k logged pairs (target <= 5 s)
	$(PY) bench/bench_s3.py   # register + snapshot 10k images in a bucket (local S3 server) vs raw parallel GETs (target <= 1.5x); unchanged re-add reads 0 bodies

clean:
	rm -rf $(VENV) node_modules jupyter_cvops/labextension jupyter_cvops/static $(DEMO_WS)
