#!/usr/bin/env bash
# `make test`: lint, build, then the Rust tests and the end-to-end tests against a
# throwaway Postgres that is stopped and removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse/target}
export CARGO_TERM_COLOR=never

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "format and lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --locked

step "throwaway postgres"
pgdir=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
chmod 755 "$pgdir"
trap 'scripts/pg-throwaway.sh stop "$pgdir/pg"; rm -rf "$pgdir"' EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GATEHOUSE_TEST_DATABASE_URL=$(scripts/pg-throwaway.sh start "$pgdir/pg" "$port")
export GATEHOUSE_TEST_DATABASE_URL

step "rust tests"
cargo test --workspace --locked

step "end-to-end tests"
export GATEHOUSE_BIN_DIR="$CARGO_TARGET_DIR/debug"
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider

step "done"
