#!/usr/bin/env bash
# Installs what a fresh clone needs to build and test: Debian packages (when
# root), the npm dev dependencies. Safe to run again: it only acts on what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if ! pkg-config --exists alsa 2>/dev/null; then need_apt+=(libasound2-dev); fi
# The media tests make their fixtures with ffmpeg and compare with its readings.
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# The queue tests start their own redis-server (BullMQ's store) on a free port.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${FERRITE_SETUP_JACK:-0}" = 1 ]; then
  command -v jackd >/dev/null 2>&1 || need_apt+=(jackd2)
  [ -e /usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_jack.so ] || [ -e /usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_jack.so ] || need_apt+=(libasound2-plugins)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]}; install them with: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain (cargo) on PATH; install it from https://rustup.rs to build from source" >&2
  exit 1
fi

if [ ! -d node_modules/@napi-rs/cli ] || [ ! -d node_modules/ava ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
