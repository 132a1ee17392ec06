#!/usr/bin/env bash
# Pack-and-install test, as a new user would meet the package:
#   1. `npm pack` the root package and the linux-x64-gnu platform package
#      (npm/linux-x64-gnu plus the built ferrite-audio.linux-x64-gnu.node);
#   2. install both tarballs into an empty project from the local tarballs and
#      the npm cache only (`--offline`), with cargo/rustc removed from PATH;
#   3. render from CommonJS (also inside a worker thread), from ESM, and from
#      strict TypeScript (`tsc --strict --noEmit`, where a `@ts-expect-error`
#      on an unknown biquad type must be needed, then run with tsx), and run
#      the `ferrite` CLI through npx.
# Needs a built tree (npm run build). Exits non-zero on the first failure.
# FERRITE_KEEP_PACK_TEST=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
binary=ferrite-audio.linux-x64-gnu.node

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "pack-test: only for linux x64 (this is $(uname -s)-$(uname -m))" >&2
  exit 2
fi
# The facade's modules (ts/*.ts; index.ts re-exports them): each compiles to a
# .js and a .d.ts, and the package ships those, never the .ts sources (a
# consumer's tsc would pick ts/x.ts over ts/x.d.ts and check our sources).
modules=()
for f in ts/*.ts; do
  case "$f" in *.d.ts) ;; *) modules+=("${f%.ts}") ;; esac
done
[ "${#modules[@]}" -gt 0 ] || { echo "pack-test: no modules under ts/" >&2; exit 1; }
built=()
for m in "${modules[@]}"; do built+=("$m.js" "$m.d.ts"); done
for f in "$binary" index.js index.d.ts index.mjs binding.js binding.d.ts "${built[@]}"; do
  [ -f "$f" ] || { echo "pack-test: $f is missing: run 'npm run build' first" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferrite-pack.XXXXXX")
if [ "${FERRITE_KEEP_PACK_TEST:-}" = 1 ]; then echo "pack-test: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

version=$(node -p "require('./package.json').version")
echo "== npm pack (root, $version), with optionalDependencies as published"
# What the publish job does: the published package.json lists the platform
# packages (scripts/set-optional-deps.js, as napi pre-publish does).
mkdir "$tmp/stage"
npm pack --pack-destination "$tmp/stage" --silent >/dev/null
tar -xzf "$tmp/stage/ferrite-audio-$version.tgz" -C "$tmp/stage"
node scripts/set-optional-deps.js "$tmp/stage/package/package.json" >/dev/null
(cd "$tmp/stage/package" && npm pack --pack-destination "$tmp" --silent --ignore-scripts >/dev/null)
root_tgz="$tmp/ferrite-audio-$version.tgz"
[ -f "$root_tgz" ] || { echo "pack-test: npm pack did not write $root_tgz" >&2; exit 1; }
tar -xzOf "$root_tgz" package/package.json | node -e "
  const p = JSON.parse(require('fs').readFileSync(0, 'utf8'))
  if (p.optionalDependencies?.['ferrite-audio-linux-x64-gnu'] !== p.version) { console.error('pack-test: optionalDependencies lack ferrite-audio-linux-x64-gnu@' + p.version); process.exit(1) }"
listing=$(tar -tzf "$root_tgz")
if grep -q '\.node$' <<<"$listing"; then
  echo "pack-test: the root tarball must not contain a .node binary" >&2; exit 1
fi
for f in index.js index.mjs index.d.ts queue.js queue.mjs queue.d.ts "${built[@]}" binding.js binding.d.ts load-binding.js load-binding.d.ts bin/ferrite.js README.md package.json; do
  grep -qx "package/$f" <<<"$listing" || { echo "pack-test: package/$f is missing from the root tarball" >&2; exit 1; }
done
sources=$(awk '/\.ts$/ && !/\.d\.ts$/' <<<"$listing")
if [ -n "$sources" ]; then
  echo "pack-test: the root tarball must not contain TypeScript sources: $sources" >&2; exit 1
fi

echo "== npm pack (ferrite-audio-linux-x64-gnu)"
mkdir "$tmp/platform"
cp npm/linux-x64-gnu/package.json npm/linux-x64-gnu/README.md "$binary" "$tmp/platform/"
(cd "$tmp/platform" && npm pack --pack-destination "$tmp" --silent >/dev/null)
plat_tgz="$tmp/ferrite-audio-linux-x64-gnu-$version.tgz"
grep -qx "package/$binary" <<<"$(tar -tzf "$plat_tgz")" || { echo "pack-test: $binary is missing from the platform tarball" >&2; exit 1; }

# PATH without any directory that holds cargo, rustc or rustup.
clean_path=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then continue; fi
  clean_path="${clean_path:+$clean_path:}$d"
done
export PATH="$clean_path"
export CARGO_HOME="$tmp/no-cargo" RUSTUP_HOME="$tmp/no-rustup"
if command -v cargo >/dev/null 2>&1 || command -v rustc >/dev/null 2>&1; then
  echo "pack-test: could not remove the Rust toolchain from PATH" >&2; exit 1
fi
echo "== no Rust toolchain on PATH (cargo, rustc: not found)"

# Dev tools for the TypeScript check, at the versions this repository uses (so
# they come from the npm cache).
ts_version=$(node -p "require('$root/node_modules/typescript/package.json').version")
types_version=$(node -p "require('$root/node_modules/@types/node/package.json').version")
tsx_version=$(node -p "require('$root/node_modules/tsx/package.json').version")

app="$tmp/app"
mkdir "$app"
cd "$app"
cat >package.json <<'EOF'
{ "name": "ferrite-pack-test-app", "version": "1.0.0", "private": true }
EOF
echo "== npm install --offline (the two tarballs; typescript $ts_version, @types/node $types_version, tsx $tsx_version)"
deps=("$root_tgz" "$plat_tgz" "typescript@$ts_version" "@types/node@$types_version" "tsx@$tsx_version")
if ! npm install --offline --no-audit --no-fund --loglevel=error "${deps[@]}"; then
  # The dev tools were not in this npm cache: fetch them (ferrite-audio and its
  # binary still come only from the local tarballs).
  echo "== npm cache lacks the dev tools: npm install --prefer-offline"
  npm install --prefer-offline --no-audit --no-fund --loglevel=error "${deps[@]}"
fi
if [ -n "$(find node_modules/ferrite-audio -name '*.node')" ]; then
  echo "pack-test: a .node file ended up inside ferrite-audio" >&2; exit 1
fi
[ -f "node_modules/ferrite-audio-linux-x64-gnu/$binary" ] || { echo "pack-test: the platform package is not installed" >&2; exit 1; }

cat >render.cjs <<'EOF'
const assert = require('node:assert')
const { Worker, isMainThread, parentPort } = require('node:worker_threads')
const { Graph, renderOffline } = require('ferrite-audio')

async function render() {
  const g = new Graph()
  g.chain(g.oscillator({ frequency: 1000, amplitude: 0.5 }), g.meter({ name: 'out' }), g.output)
  const r = await renderOffline(g, { sampleRate: 48000, frames: 4800 })
  const peak = r.channels[0].reduce((m, x) => Math.max(m, Math.abs(x)), 0)
  assert.strictEqual(r.channels.length, 2)
  assert.strictEqual(r.channels[0].length, 4800)
  assert.ok(Math.abs(peak - 0.5) < 1e-3, `peak ${peak}`)
  assert.ok(Math.abs(r.meters.out.peakDb - 20 * Math.log10(0.5)) < 0.05, `meter ${r.meters.out.peakDb}`)
  return peak
}

if (isMainThread) {
  render().then((peak) => {
    console.log(`cjs: rendered, peak ${peak.toFixed(4)}`)
    const w = new Worker(__filename)
    w.on('message', (m) => console.log(`cjs worker_threads: rendered, peak ${m.toFixed(4)}`))
    w.on('error', (e) => { console.error(e); process.exitCode = 1 })
  }, (e) => { console.error(e); process.exitCode = 1 })
} else {
  render().then((peak) => parentPort.postMessage(peak))
}
EOF

cat >render.mjs <<'EOF'
import assert from 'node:assert'
import ferrite, { Graph, renderOffline, AutomationLane, secondsToFrames } from 'ferrite-audio'

assert.strictEqual(ferrite.Graph, Graph)
const g = new Graph()
const gain = g.gain({ gain: 0 })
g.chain(g.oscillator({ frequency: 440 }), gain, g.output)
g.automate(gain, 'gain', new AutomationLane().add(0, 0).add(4800, 1))
const frames = secondsToFrames(0.1, 48000)
const r = await renderOffline(g, { sampleRate: 48000, frames })
assert.strictEqual(r.channels[0].length, 4800)
const last = r.channels[0].slice(4000).reduce((m, x) => Math.max(m, Math.abs(x)), 0)
assert.ok(last > 0.7, `automation did not open the gain: ${last}`)
console.log(`esm: rendered ${frames} frames with automation`)
EOF

cat >render.ts <<'EOF'
import assert from 'node:assert'
import { Graph, renderOffline, type BiquadType, type MeterReading, type RenderResult } from 'ferrite-audio'
import { enqueue, startWorker, type Job } from 'ferrite-audio/queue'

async function main(): Promise<void> {
  const g = new Graph()
  const type: BiquadType = 'lowpass'
  g.chain(g.oscillator({ type: 'saw', frequency: 110, amplitude: 0.5 }), g.biquad({ type, frequency: 800 }), g.meter({ name: 'm' }), g.output)
  const r: RenderResult = await renderOffline(g, { sampleRate: 48000, frames: 4800 })
  const m: MeterReading = r.meters.m
  assert.ok(Number.isFinite(m.peakDb))
  // An unknown biquad type must not type-check (and throws at run time).
  assert.throws(() => {
    // @ts-expect-error 'lowpassy' is not a BiquadType
    g.biquad({ type: 'lowpassy', frequency: 1000 })
  }, TypeError)
  // The queue's types need no bullmq (it is an optional peer dependency, not installed here).
  const job: Job = { kind: 'normalize', input: 'in.mp3', output: 'out.flac', targetLufs: -16 }
  const use: [typeof enqueue, typeof startWorker] = [enqueue, startWorker]
  // @ts-expect-error 'transcode' is not a job kind
  const bad: Job = { kind: 'transcode', input: 'x' }
  void job, use, bad
  console.log(`ts: rendered, peak ${m.peakDb.toFixed(2)} dBFS`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
EOF

cat >bad.ts <<'EOF'
import { Graph } from 'ferrite-audio'
new Graph().biquad({ type: 'lowpassy', frequency: 1000 })
EOF

echo "== CommonJS"
node render.cjs
echo "== ESM"
node render.mjs
echo "== strict TypeScript: tsc --strict --noEmit"
npx --no-install tsc --strict --noEmit --target ES2022 --module NodeNext --moduleResolution NodeNext --types node --skipLibCheck false render.ts
if out=$(npx --no-install tsc --strict --noEmit --target ES2022 --module NodeNext --moduleResolution NodeNext --types node bad.ts 2>&1); then
  echo "pack-test: an unknown biquad type type-checked" >&2; exit 1
fi
echo "$out" | grep -q "lowpassy" || { echo "pack-test: unexpected tsc output: $out" >&2; exit 1; }
echo "tsc refuses an unknown biquad type: $(echo "$out" | grep -o "error TS[0-9]*: Type '\"lowpassy\"'[^.]*" | head -1)"
echo "== TypeScript through tsx"
npx --no-install tsx render.ts
echo "== CLI through npx"
help=$(npx --no-install ferrite --help)
sed -n 1p <<<"$help"
node -e "const { Graph } = require('ferrite-audio'); const g = new Graph(); g.chain(g.oscillator({ frequency: 1000, amplitude: 0.5 }), g.output); require('fs').writeFileSync('tone.json', JSON.stringify(g))"
npx --no-install ferrite render tone.json --out tone.wav --seconds 1 --quiet
npx --no-install ferrite loudness tone.wav
echo "== ferrite-audio/queue without bullmq (an optional peer dependency: not installed)"
[ ! -e node_modules/bullmq ] || { echo "pack-test: bullmq was installed with ferrite-audio" >&2; exit 1; }
node -e "
  require('ferrite-audio/queue').enqueue({ kind: 'loudness', input: 'a.wav' }, { redis: 'redis://127.0.0.1:1' }).then(
    () => process.exit(1),
    (e) => { if (!/npm install bullmq/.test(e.message)) { console.error(e); process.exit(1) } console.log('queue without bullmq: ' + e.message) })"
echo "pack-test: OK (no Rust on PATH; CommonJS, worker_threads, ESM, strict TypeScript, CLI, queue entry)"
