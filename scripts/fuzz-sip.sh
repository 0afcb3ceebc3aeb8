#!/usr/bin/env bash
# Fuzz the SIP engine's parser/engine for a bounded time (default 60 s).
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail
SECS="${1:-${FUZZ_SECONDS:-60}}"
cd "$(dirname "$0")/../native/sip/fuzz"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz or nightly missing: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
  exit 2
fi
mkdir -p corpus/parse
# A fresh copy of the corpus so CI runs do not grow the repository.
work="$(mktemp -d)"
cp corpus/parse/* "$work"/
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/../../../target/sip-fuzz}" \
  cargo +nightly fuzz run parse "$work" -- -max_total_time="$SECS" -max_len=8192 -rss_limit_mb=2048
echo "fuzz-sip: ${SECS}s without a crash"
