# One entry point for set-up, tests and the main job. Every target creates and uses the
# virtual environment in $(VENV) and installs what it needs on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
RED    := $(VENV)/bin/red
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: all setup test test-slow wheel-check demo verilog lint bench clean

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# $(call need_os,TEST,PACKAGE,WHAT): when the shell TEST fails, install the Debian
# PACKAGE (as root, with apt-get) or stop saying how. need_os_command tests a command,
# need_os_file a file.
need_os_command = $(call need_os,command -v $(1) >/dev/null 2>&1,$(2),$(3))
need_os_file = $(call need_os,test -f $(1),$(2),$(3))
define need_os
@$(1) || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "installing $(2) with apt-get"; \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2)) >/dev/null; \
  else \
    echo "$(3) is missing: run 'sudo apt-get install $(2)' and retry"; exit 1; \
  fi; }
endef

# $(call liberty_place,N): entry N of red.gen.area.LIBERTY_PLACES, where red looks for
# the liberty file (0: the virtual environment's place, which make fills; -1: qflow's,
# where the .deb holds it). Needs the installed package.
liberty_place = $(shell $(PY) -c 'from red.gen.area import LIBERTY_PLACES; print(LIBERTY_PLACES[$(1)])')

# Icarus Verilog, Yosys (red area) and LZ4's header (Verilator's FST writer) come from
# the OS; install them when missing and we are allowed to. ccache is optional: it caches Verilator's runtime objects across builds.
os-packages: $(STAMP)
	$(call need_os_command,iverilog,iverilog,Icarus Verilog)
	@command -v ccache >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache) >/dev/null 2>&1 \
	      || echo "note: ccache not installed; Verilator builds will be slower"; \
	  fi; }
	$(call need_os_command,yosys,yosys,Yosys (red area))
	$(call need_os_file,/usr/include/lz4.h,liblz4-dev,LZ4 (Verilator's FST waveforms))
	@test -f $(call liberty_place,0) || $(MAKE) --no-print-directory osu018-liberty
.PHONY: os-packages

# The OSU 0.18 um standard-cell liberty for `red area`, from Debian's qflow-tech-osu018
# unpacked (not installed: the package would pull in qflow and tcsh) into the venv.
osu018-liberty: $(STAMP)
	@echo "unpacking the OSU 0.18 um liberty from qflow-tech-osu018"
	@lib=$(call liberty_place,0); tmp=$$(mktemp -d) && cd $$tmp && \
	  { apt-get download qflow-tech-osu018 >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get download qflow-tech-osu018 >/dev/null 2>&1; }; } && \
	  dpkg -x qflow-tech-osu018_*.deb x && cd - >/dev/null && mkdir -p "$$(dirname "$$lib")" && \
	  cp $$tmp/x$(call liberty_place,-1) "$$lib"; \
	  status=$$?; rm -rf $$tmp; \
	  [ $$status = 0 ] || { echo "could not get qflow-tech-osu018 with apt-get download"; exit 1; }
.PHONY: osu018-liberty

setup: $(STAMP) os-packages

# Two workers: simulator runs are single-threaded and the machine has two cores. Then
# the package check.
test: setup
	$(PY) -m pytest -m "not slow" -q -n 2
	PY=$(PY) .ci/wheel-check

# The package as a user gets it: build the wheel, install it into a fresh virtual
# environment and run `red gen` and a small `red sim` on Icarus outside the source tree
# (.ci/wheel-check; dependencies from a wheelhouse in the cache folder, filled from the
# package index on first use).
wheel-check: setup
	PY=$(PY) .ci/wheel-check

test-slow: setup
	$(PY) -m pytest -m slow -q

# The main job: the full-size DCGAN and FCN-8s layers on the RTL (RED and ZP, checked
# against the golden and the analytical model, within a cycle budget), the rest of the
# full-size figures from the model (red.report).
demo: setup
	$(RED) report --out $(OUT)/report
	@echo "report: $(OUT)/report/report.md"

verilog: setup
	$(RED) gen --top tile --out $(OUT)/verilog
	$(RED) gen --top mvm --out $(OUT)/verilog

lint: setup
	$(PY) -m red.gen.lint

bench: setup
	$(PY) -m red.sim.bench

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis sim_build .red-cache
