#!/usr/bin/env bash
# `npm run demo`: sets up what is missing, builds, then plays the demo on the
# default audio device, or renders it to demo.wav and prints meters when there
# is no sound card.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f index.js ] && [ -n "$(ls ferrite-audio.*.node 2>/dev/null)" ] && [ -z "${FERRITE_REBUILD:-}" ] && [ -z "$(find src crates index.ts ts -newer index.js -type f ! -path 'ts/*.js' ! -path 'ts/*.d.ts' 2>/dev/null | head -1)" ] || npm run build
npx tsx examples/demo.ts "$@"
