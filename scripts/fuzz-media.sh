#!/usr/bin/env bash
# Fuzz the media engine for a bounded time per target (default 60 s each):
# demux (RFC 7983 demultiplexer, RTP/RTCP checks, SRTP unprotect, DTLS record
# filter + OpenSSL) and pipeline (a whole call, sans-IO).
# Usage: scripts/fuzz-media.sh [seconds] [target...]
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail
SECS="${1:-${FUZZ_SECONDS:-60}}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(demux pipeline)
cd "$(dirname "$0")/../native/media/fuzz"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz or nightly missing: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
  exit 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/../../../target/media-fuzz}"
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  # A fresh copy of the corpus so CI runs do not grow the repository.
  work="$(mktemp -d)"
  cp "corpus/$t"/* "$work"/
  cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048
  rm -rf "$work"
  echo "fuzz-media $t: ${SECS}s without a crash"
done
