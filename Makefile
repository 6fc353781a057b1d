# One entry point for set-up, tests and the main job. Every target creates and uses the
# virtual environment in $(VENV) and installs what it needs on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
RED    := $(VENV)/bin/red
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: all setup test test-slow demo verilog lint bench clean

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# Icarus Verilog comes from the OS; install it when missing and we are allowed to.
# ccache is optional: it caches Verilator's runtime objects across builds.
os-packages:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing iverilog with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog) >/dev/null; \
	  else \
	    echo "Icarus Verilog is missing: run 'sudo apt-get install iverilog' and retry"; exit 1; \
	  fi; }
	@command -v ccache >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache) >/dev/null 2>&1 \
	      || echo "note: ccache not installed; Verilator builds will be slower"; \
	  fi; }
.PHONY: os-packages

setup: $(STAMP) os-packages

# Two workers: simulator runs are single-threaded and the machine has two cores.
test: setup
	$(PY) -m pytest -m "not slow" -q -n 2

test-slow: setup
	$(PY) -m pytest -m slow -q

# A scaled-down DCGAN layer (K5 s2 p2 op1) on the RTL in RED and ZP mode, then the
# analytical model on the full-size DCGAN and FCN layers.
DEMO_TILE  := rows=8,cols=16,cell_bits=2,w_bits=4,in_bits=4,kernel=5,max_stride=2,max_in=8
DEMO_LAYER := cin=8,cout=8,h=4,w=4,k=5,s=2,p=2,op=1
demo: setup
	$(RED) sim --layer $(DEMO_LAYER) --tile $(DEMO_TILE) --mode red --out $(OUT)/demo-red
	$(RED) sim --layer $(DEMO_LAYER) --tile $(DEMO_TILE) --mode zp --out $(OUT)/demo-zp
	$(RED) model --workload dcgan
	$(RED) model --workload fcn

verilog: setup
	$(RED) gen --top tile --out $(OUT)/verilog
	$(RED) gen --top mvm --out $(OUT)/verilog

lint: setup
	$(PY) -m red.gen.lint

bench: setup
	$(PY) -m red.gen.bench

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis sim_build .red-cache
