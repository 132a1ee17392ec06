#!/usr/bin/env bash
# Run ferrite-io's paced-device tests through jackd's dummy driver:
# start the server, run the gated tests, stop the server (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/jack-dummy.sh)"
trap 'scripts/jack-dummy-stop.sh' EXIT
FERRITE_JACK_TEST=1 FERRITE_JACK_LOST_TEST=1 \
  cargo test -p ferrite-io --test jack_dummy --test jack_device_lost "$@"
