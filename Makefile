# TerraHash: `make demo` runs the product end to end, `make test` runs the tests,
# `make bench` regenerates every benchmark result and the README tables built from them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint clean backbone pretrain-backbone bench bench-quick readme

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so pip never resolves another (CUDA) build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m terrahash.demo

test: lint
	$(BIN)/python -m pytest

# Style, the layer contracts of docs/architecture.md (import-linter) and types (mypy).
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# The shipped default backbone: pretrained on ../shared/data (labelled sets: train part less its
# validation part), then copied with its model card into the package (time and per-epoch rates
# in bench/results/pretrain.md). 40 epochs, chosen on UC Merced's validation part over the
# 20-epoch backbone before it (bench/results/compare_pretrain.md); two torch threads on an
# otherwise idle machine (OpenMP threads that share their cores with other jobs spin: use
# PRETRAIN_THREADS=1 there).
PRETRAIN_SOURCES := $(addprefix ../shared/data/scenes/,ucmerced aid bigearthnet_configilm eolearn_slovenia \
	bigearthnet_s2_examples) ../shared/data/rasters
# `make pretrain-backbone BACKBONE_EPOCHS=N` pretrains a candidate without shipping it.
BACKBONE_EPOCHS ?= 40
PRETRAIN_THREADS ?= 2
PRETRAIN_FLAGS ?=
BACKBONE_RUN := bench/runs/backbone$(BACKBONE_EPOCHS)
pretrain-backbone: install
	OMP_NUM_THREADS=$(PRETRAIN_THREADS) $(BIN)/terrahash pretrain $(PRETRAIN_SOURCES) --out $(BACKBONE_RUN) \
		--epochs $(BACKBONE_EPOCHS) --batch-size 128 --resume $(PRETRAIN_FLAGS)
backbone: pretrain-backbone
	cp $(BACKBONE_RUN)/backbone.safetensors $(BACKBONE_RUN)/card.json $(BACKBONE_RUN)/CARD.md \
		$(BACKBONE_RUN)/pretrain_curve.png src/terrahash/model/weights/
	cp $(BACKBONE_RUN)/card.json bench/results/pretrain.json
	cp $(BACKBONE_RUN)/CARD.md bench/results/pretrain.md
	cp $(BACKBONE_RUN)/pretrain_curve.png bench/results/pretrain.png

# Every file under bench/results/ (hours on 2 CPU cores), then the README's benchmark tables.
# QUICK=1 (or `make bench-quick`): tiny budgets into bench/runs/quick/results, for CI time.
bench: install
	$(BIN)/python bench/run_all.py $(if $(QUICK),--quick)

bench-quick: install
	$(BIN)/python bench/run_all.py --quick

# The README's benchmark tables from bench/results/*.json (`--check` only compares).
readme: install
	$(BIN)/python bench/readme.py

clean:
	rm -rf $(VENV) demo-output build *.egg-info src/*.egg-info
