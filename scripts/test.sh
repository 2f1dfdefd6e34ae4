#!/usr/bin/env bash
# The project's test command (README): every crate's tests, with the PostgreSQL suite when
# VAMOS_TEST_POSTGRES_URL is set (.ci/run sets it; locally: export it to include PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
cargo test --workspace --locked "$@"
