#!/usr/bin/env bash
# Run the tests that need a paced device through jackd's dummy driver: start
# the server, run the gated tests, stop the server (also on failure).
#   ferrite-engine jack_record: the device input recorded through a JACK
#     loopback (the engine's playback ports feed its capture ports);
#   ferrite-io jack_dummy, jack_device_lost: pacing, input, a lost server
#     (last: it stops and restarts the server).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/jack-dummy.sh)"
trap 'scripts/jack-dummy-stop.sh' EXIT
status=0
FERRITE_JACK_TEST=1 cargo test -p ferrite-engine --test jack_record "$@" || status=1
FERRITE_JACK_TEST=1 FERRITE_JACK_LOST_TEST=1 \
  cargo test -p ferrite-io --test jack_dummy --test jack_device_lost "$@" || status=1
exit "$status"
