#!/usr/bin/env bash
# Start a paced "sound card" without hardware: jackd's dummy driver, with
# ALSA's jack plugin (Debian libasound2-plugins) as the default PCM so that
# cpal's `default` device plays through JACK at 48000 Hz / 128 frames.
#
# Usage:  eval "$(scripts/jack-dummy.sh)"     # starts jackd, exports ALSA_CONFIG_PATH
#         FERRITE_JACK_TEST=1 cargo test -p ferrite-io --test jack_dummy
#         scripts/jack-dummy-stop.sh
#
# Needs: jackd2, libasound2-plugins (apt-get install -y jackd2 libasound2-plugins).
# Only the line `export ALSA_CONFIG_PATH=...` goes to stdout; logs go to stderr
# and to $FERRITE_JACK_DIR/jackd.log.
set -euo pipefail

RATE="${FERRITE_JACK_RATE:-48000}"
PERIOD="${FERRITE_JACK_PERIOD:-128}"
DIR="${FERRITE_JACK_DIR:-/tmp/ferrite-jack}"
SYSTEM_CONF="${FERRITE_SYSTEM_ALSA_CONF:-/usr/share/alsa/alsa.conf}"
mkdir -p "$DIR"

for tool in jackd jack_lsp; do
  command -v "$tool" >/dev/null || { echo "jack-dummy: $tool not found (install jackd2)" >&2; exit 1; }
done
if ! ls /usr/lib/*/alsa-lib/libasound_module_pcm_jack.so >/dev/null 2>&1; then
  echo "jack-dummy: ALSA jack plugin not found (install libasound2-plugins)" >&2
  exit 1
fi

# JACK refuses to start twice; reuse a server that is already up.
if jack_lsp >/dev/null 2>&1; then
  echo "jack-dummy: a JACK server is already running; reusing it" >&2
else
  # No realtime: containers rarely allow it, and the dummy driver's pacing
  # (a timer) does not need it. As root JACK would otherwise try anyway.
  # Synchronous: each cycle waits for every client, so a client that runs
  # late (no realtime, a loaded machine) delays the cycle instead of making
  # the graph's latency jump by a period (the loopback recording test in
  # crates/ferrite-engine/tests/jack_record.rs needs a fixed latency).
  nohup jackd --no-realtime --sync -d dummy -r "$RATE" -p "$PERIOD" \
    >"$DIR/jackd.log" 2>&1 </dev/null &
  echo $! >"$DIR/jackd.pid"
  for _ in $(seq 1 100); do
    if jack_lsp >/dev/null 2>&1; then break; fi
    if ! kill -0 "$(cat "$DIR/jackd.pid")" 2>/dev/null; then
      echo "jack-dummy: jackd exited; its log:" >&2
      cat "$DIR/jackd.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  jack_lsp >/dev/null 2>&1 || { echo "jack-dummy: jackd did not come up in 10 s" >&2; cat "$DIR/jackd.log" >&2; exit 1; }
fi
echo "jack-dummy: jackd is up ($RATE Hz, $PERIOD frames); ports:" >&2
jack_lsp 2>/dev/null | sed 's/^/  /' >&2

# An ALSA configuration that loads the system's, then makes the default PCM
# the JACK plugin, wired to the dummy driver's system ports. Used through
# ALSA_CONFIG_PATH so that nothing in $HOME changes.
cat >"$DIR/asound.conf" <<CONF
<$SYSTEM_CONF>

pcm.ferrite_jack {
    type jack
    playback_ports {
        0 system:playback_1
        1 system:playback_2
    }
    capture_ports {
        0 system:capture_1
        1 system:capture_2
    }
}

pcm.!default {
    type plug
    slave.pcm "ferrite_jack"
}
CONF
echo "export ALSA_CONFIG_PATH=$DIR/asound.conf"
