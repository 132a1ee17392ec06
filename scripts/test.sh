#!/usr/bin/env bash
# `npm test`: sets up, builds once (release), runs every Rust and ava test and
# prints the counts. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# Tests build without link-time optimisation: two dozen test binaries each
# link the whole engine, and thin LTO on every link is most of a test
# build's time. The addon the ava tests load is built the same way (one
# build). Published binaries and benchmarks keep the release profile's LTO.
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-off}"
npm run build || exit 1

log=$(mktemp -d)
status=0
t0=$(date +%s)
echo "== Rust tests (cargo test --release)"
cargo test --release --workspace --exclude ferrite-audio 2>&1 | tee "$log/rust.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
# The audio-path guarantees again with the SIMD level forced down (the same
# test binaries; FERRITE_SIMD is read at run time): no allocation on the audio
# path, and batched / fused / folded / mono renders equal to node-by-node ones,
# at every level.
for level in scalar sse4.2; do
  echo "== audio-path tests at FERRITE_SIMD=$level"
  FERRITE_SIMD=$level cargo test --release -p ferrite-dsp --test no_alloc 2>&1 | tee -a "$log/rust.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  FERRITE_SIMD=$level cargo test --release -p ferrite-engine --test realtime --test parallel_filters_render_as_alone --test biquad_chains_render_as_one_cascade --test gains_applied_by_their_reader --test mono_signals_stay_one_channel 2>&1 | tee -a "$log/rust.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done
if command -v jackd >/dev/null 2>&1 && ls /usr/lib/*/alsa-lib/libasound_module_pcm_jack.so >/dev/null 2>&1; then
  echo "== paced device tests through jackd's dummy driver"
  bash scripts/test-jack.sh --release 2>&1 | grep -v -E '^(JackShm|Cannot|jack_|ALSA lib)' | tee "$log/jack.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  cat "$log/jack.txt" >> "$log/rust.txt"
else
  echo "== paced device tests skipped: jackd2 and libasound2-plugins are not installed (FERRITE_SETUP_JACK=1 npm test installs them)"
fi
echo "== Rust tests took $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
echo "== ava tests"
npx ava 2>&1 | tee "$log/ava.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
echo "== ava tests took $(( $(date +%s) - t0 )) s"

rust_pass=$(grep -E '^test result:' "$log/rust.txt" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
rust_fail=$(grep -E '^test result:' "$log/rust.txt" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
ava_pass=$(grep -cE '^\s+✔' "$log/ava.txt" || true)
ava_fail=$(grep -cE '^\s+✘' "$log/ava.txt" || true)
[ -n "$ava_pass" ] || ava_pass=0
[ -n "$ava_fail" ] || ava_fail=0
if [ "$status" != 0 ] && [ "$((rust_fail + ava_fail))" = 0 ]; then rust_fail=1; fi
echo
echo "Rust: $rust_pass passed, $rust_fail failed; ava: $ava_pass passed, $ava_fail failed"
echo "$((rust_pass + ava_pass)) passed, $((rust_fail + ava_fail)) failed"
exit $status
