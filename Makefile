# One entry point for every routine command; CI calls the same targets.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gatehouse/target
PROFILE ?= dev

.PHONY: run test bench setup build lint openapi clean

## Build and start everything locally (embedded Postgres, control plane, data plane, mock).
run: setup
	PROFILE=$(PROFILE) scripts/run.sh

## Lint, build, and run the Rust and end-to-end tests against a throwaway Postgres.
test: setup
	scripts/test.sh

## Release-build benchmarks on loopback; writes docs/benchmarks.md and bench/results/.
bench: setup
	scripts/bench.sh

## Install system packages and the Python test environment (.venv).
setup:
	scripts/setup.sh

build:
	cargo build --workspace --locked --profile $(PROFILE)

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## Regenerate openapi/openapi.json from the code.
openapi:
	cargo run --quiet --locked -p control-plane --bin gatehouse-control-plane -- openapi > openapi/openapi.json

clean:
	rm -rf .gatehouse .venv
