// graph.sidechain(from, compressor): music ducked under a voice, end to end,
// against levels computed here; the key is aligned through latency, never
// heard, survives toJSON/fromJSON; bad keys are refused by name.
import test from 'ava'
import { Graph, renderOffline } from '../index'

const fs = 48000
const frames = 2 * fs
// The voice: a 300 Hz tone at 0.8 from 0.25 s to 0.75 s, then silence.
const voice = Float32Array.from({ length: frames }, (_, i) => (i >= 12000 && i < 36000 ? 0.8 * Math.sin((2 * Math.PI * 300 * i) / fs) : 0))

/**
 * Music (a 220 Hz sine at 0.3) through a compressor keyed by the voice
 * (through a limiter with `lookaheadMs`); `dry`: the music straight to the
 * output (the compressor and the voice left unconnected).
 */
function ducking(o: { music?: number; lookaheadMs?: number; dry?: boolean } = {}) {
  const g = new Graph()
  const music = g.oscillator({ frequency: 220, amplitude: o.music ?? 0.3 })
  const duck = g.compressor({ thresholdDb: -30, ratio: 8, attackMs: 5, releaseMs: 100, kneeDb: 6 })
  if (o.dry) g.connect(music, g.output)
  else g.chain(music, duck, g.output)
  let key = g.player({ channels: [voice] })
  if (o.lookaheadMs !== undefined) {
    const lim = g.limiter({ ceilingDb: 0, lookaheadMs: o.lookaheadMs })
    g.connect(key, lim)
    key = lim
  }
  if (!o.dry) g.sidechain(key, duck)
  return { g, duck, key }
}

/** RMS in dB of `x` over frames a..b. */
function rmsDb(x: Float32Array, a: number, b: number): number {
  let s = 0
  for (let i = a; i < b; i++) s += x[i] * x[i]
  return 10 * Math.log10(s / (b - a))
}

test('music is ducked by more than 10 dB under the voice and back within 0.5 dB after the release', async (t) => {
  const dry = await renderOffline(ducking({ dry: true }).g, { sampleRate: fs, frames })
  const wet = await renderOffline(ducking().g, { sampleRate: fs, frames })
  const before = rmsDb(wet.channels[0], 2400, 11_000) - rmsDb(dry.channels[0], 2400, 11_000)
  const under = rmsDb(wet.channels[0], 18_000, 36_000) - rmsDb(dry.channels[0], 18_000, 36_000)
  const after = rmsDb(wet.channels[0], 72_000, 96_000) - rmsDb(dry.channels[0], 72_000, 96_000)
  // The voice's peak is -1.9 dBFS: 28.1 dB over the threshold, reduced by 28.1 · (1 - 1/8) ≈ 24.6 dB at the peaks.
  t.true(Math.abs(before) < 1e-6, `before the voice: ${before} dB`)
  t.true(under < -10, `under the voice: ${under} dB`)
  t.true(Math.abs(after) < 0.5, `after the release: ${after} dB`)
})

test('the key steers the gain only: silent music stays silent', async (t) => {
  const r = await renderOffline(ducking({ music: 0 }).g, { sampleRate: fs, frames: fs })
  t.true(r.channels.every((c) => c.every((v) => v === 0)))
})

test('a key through a limiter is aligned with the music', async (t) => {
  // The key arrives 240 frames late: the music waits for it, so the output
  // is the render without lookahead, 240 frames later.
  const late = await renderOffline(ducking({ lookaheadMs: 5 }).g, { sampleRate: fs, frames })
  const direct = await renderOffline(ducking({ lookaheadMs: 0 }).g, { sampleRate: fs, frames })
  t.is(late.latencyFrames, 240)
  t.is(direct.latencyFrames, 0)
  let worst = 0
  for (let i = 240; i < frames; i++) worst = Math.max(worst, Math.abs(late.channels[0][i] - direct.channels[0][i - 240]))
  t.true(worst < 1e-6, `worst ${worst}`)
})

test('sidechains round-trip through toJSON and fromJSON', async (t) => {
  const { g, duck, key } = ducking()
  const json = g.toJSON() as { sidechains: number[][] }
  t.deepEqual(json.sidechains, [[key.id, duck.id]])
  const copy = Graph.fromJSON(JSON.stringify(json))
  t.deepEqual(copy.toJSON(), g.toJSON())
  const a = await renderOffline(g, { sampleRate: fs, frames: fs })
  const b = await renderOffline(copy, { sampleRate: fs, frames: fs })
  t.deepEqual(b.channels, a.channels)
  // A graph without keys serializes as before (no 'sidechains').
  t.false('sidechains' in (ducking({ dry: true }).g.toJSON() as object))
  t.throws(() => Graph.fromJSON({ ...json, sidechains: [[key.id]] }), { instanceOf: TypeError, message: /sidechains\[0\] must be a \[from, compressor\] pair/ })
  t.throws(() => Graph.fromJSON({ ...json, sidechains: [[key.id, 99]] }), { instanceOf: TypeError, message: /sidechains\[0\].*unknown node id 99/ })
})

test('bad sidechains are refused by name', (t) => {
  const g = new Graph()
  const osc = g.oscillator({ frequency: 100 })
  const gain = g.gain()
  const comp = g.compressor()
  g.chain(osc, comp, gain, g.output)
  t.throws(() => g.sidechain(osc, gain), { instanceOf: TypeError, message: `sidechain: gain #${gain.id} is not a compressor: only a compressor takes a key (oscillator #${osc.id} → gain #${gain.id})` })
  t.throws(() => g.sidechain(g.output, comp), { instanceOf: TypeError, message: /output #1 is the master output/ })
  t.throws(() => g.sidechain(new Graph().input, comp), { instanceOf: TypeError, message: /belongs to another graph/ })
  t.throws(() => g.sidechain(comp, comp), { instanceOf: RangeError, message: /cycle: compressor #\d+ is keyed by itself/ })
  t.throws(() => g.sidechain(gain, comp), { instanceOf: RangeError, message: `sidechain: cycle: compressor #${comp.id} → gain #${gain.id} → (sidechain key) compressor #${comp.id}` })
  g.sidechain(g.input, comp)
  g.sidechain(g.input, comp) // the same key again is no change
  t.throws(() => g.sidechain(osc, comp), { instanceOf: TypeError, message: `sidechain: compressor #${comp.id} already has a key, input #0 (a second one from oscillator #${osc.id})` })
  // A connection that would close a cycle through a key is refused too.
  const g2 = new Graph()
  const c2 = g2.compressor()
  const k2 = g2.gain()
  g2.chain(g2.input, c2, g2.output).sidechain(k2, c2)
  t.throws(() => g2.connect(c2, k2), { instanceOf: RangeError, message: /cycle/ })
})
