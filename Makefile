# The two commands of the quick start are `make demo` and `make test`.
PREFIX ?= /usr/local

.PHONY: setup build demo test bench

setup:
	@scripts/setup.sh

build: setup
	swift build -c release --product gradcam

demo: build
	.build/release/gradcam --version
	.build/release/gradcam check

test: setup
	swift test

bench: setup
	swift build -c release --product gradcam-bench
	.build/release/gradcam-bench
