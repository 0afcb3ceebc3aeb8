#!/usr/bin/env bash
# Every fuzz target for a bounded time each (default 60 s): the SIP engine
# (scripts/fuzz-sip.sh) and the media engine (scripts/fuzz-media.sh). The SDP
# handling is TypeScript and is fuzzed by test/hardening/sdp-fuzz.test.js.
set -euo pipefail
SECS="${1:-${FUZZ_SECONDS:-60}}"
cd "$(dirname "$0")"
./fuzz-sip.sh "$SECS"
./fuzz-media.sh "$SECS"
