# The two commands of the quick start are `make demo` and `make test`.
PREFIX ?= /usr/local
GRADCAM := .build/release/gradcam

.PHONY: setup build demo test notebooks bench install

setup:
	@scripts/setup.sh

build: setup
	swift build -c release --product gradcam

# The main job: caption an example image with the shipped captioner and explain every word.
demo: build
	@mkdir -p out
	$(GRADCAM) caption notebooks-cli/images/scene-1.png --out out/demo --force

# Unit and end-to-end tests, then every walkthrough that needs no PyTorch, on small inputs.
test: setup
	swift test
	$(MAKE) notebooks

notebooks: build
	@mkdir -p out; for script in notebooks-cli/0*.sh; do \
	  echo "== $$script"; QUICK=1 GRADCAM=$(GRADCAM) bash $$script > out/notebooks-$$(basename $$script .sh).log 2>&1 \
	    || { cat out/notebooks-$$(basename $$script .sh).log; echo "FAILED: $$script"; exit 1; }; \
	done; echo "notebooks: all passed"

# `make bench BENCH_ARGS=--quick` for the 2-minute version; `--no-pytorch`, `--scenario NAME`,
# `--threads 1`, `--markdown FILE`: see `gradcam-bench --help` and BENCHMARKS.md.
bench: setup
	swift build -c release --product gradcam
	swift build -c release --product gradcam-bench
	.build/release/gradcam-bench $(BENCH_ARGS)

install: build
	install -d $(PREFIX)/bin $(PREFIX)/share/gradcam/Models
	install -m 755 $(GRADCAM) $(PREFIX)/bin/gradcam
	cp -R Models/. $(PREFIX)/share/gradcam/Models/
	@echo "installed $(PREFIX)/bin/gradcam and its models in $(PREFIX)/share/gradcam/Models"
