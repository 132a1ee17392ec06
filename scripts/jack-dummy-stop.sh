#!/usr/bin/env bash
# Stop the jackd started by scripts/jack-dummy.sh and remove its ALSA config.
set -uo pipefail
DIR="${FERRITE_JACK_DIR:-/tmp/ferrite-jack}"
if [[ -f "$DIR/jackd.pid" ]]; then
  pid="$(cat "$DIR/jackd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$DIR/jackd.pid"
fi
rm -f "$DIR/asound.conf"
echo "jack-dummy: stopped" >&2
