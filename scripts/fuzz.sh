#!/usr/bin/env bash
# The property tests with a longer budget than CI's (FERRITE_FUZZ_CASES,
# default here 2000 cases per property; CI runs 48): the file probe and
# decoders on arbitrary and mutated bytes, the writers' round trip, and the
# graph document parser. Usage: scripts/fuzz.sh [cases]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-2000}"
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-off}"
FERRITE_FUZZ_CASES="$cases" cargo test --release -p ferrite-media --test properties
FERRITE_FUZZ_CASES="$cases" cargo test --release -p ferrite-engine --test validation
