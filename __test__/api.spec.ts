import test from 'ava'
import { Graph, AutomationLane, renderOffline, secondsToFrames, framesToSeconds } from '../index'

test('graph builds every issue-2 node and serializes a versioned form', (t) => {
  const g = new Graph()
  const osc = g.oscillator({ type: 'saw', frequency: 110, amplitude: 0.5 })
  const eq = g.eq({ bands: [{ type: 'lowshelf', frequency: 100, gainDb: 3 }, { type: 'peaking', frequency: 1000, q: 2, gainDb: -4 }] })
  const d = g.delay({ frames: 4800, feedback: 0.3, mix: 0.25 })
  const p = g.pan({ pan: -0.5 })
  g.chain(osc, eq, d, p, g.gain({ gain: 0.8 }), g.output)
  const json = g.toJSON() as { version: number; nodes: Array<{ id: number; type: string; params?: Record<string, number> }>; connections: number[][] }
  t.is(json.version, 1)
  t.deepEqual(json.nodes.map((n) => n.type), ['input', 'output', 'oscillator', 'eq', 'delay', 'pan', 'gain'])
  t.deepEqual(json.nodes[3].params, {
    'bands[0].frequency': 100, 'bands[0].q': Math.SQRT1_2, 'bands[0].gainDb': 3,
    'bands[1].frequency': 1000, 'bands[1].q': 2, 'bands[1].gainDb': -4,
  })
  t.is(json.connections.length, 5)
  t.is(g.input.type, 'input')
  t.is(g.output.type, 'output')
  t.is(osc.type, 'oscillator')
  t.true(Object.isFrozen(osc))
  // The JSON form round-trips through JSON.stringify.
  t.deepEqual(JSON.parse(JSON.stringify(g)), json)
})

test('unit helpers', (t) => {
  t.is(secondsToFrames(1.5, 48000), 72000)
  t.is(framesToSeconds(24000, 48000), 0.5)
  t.throws(() => secondsToFrames(-1, 48000), { instanceOf: RangeError })
  t.throws(() => framesToSeconds(1.5, 48000), { instanceOf: RangeError })
  t.throws(() => secondsToFrames(1, 0), { instanceOf: RangeError })
})

test('bad factory input throws TypeError/RangeError naming node, parameter and value', (t) => {
  const g = new Graph()
  const e1 = t.throws(() => g.oscillator({ frequency: NaN }), { instanceOf: RangeError })
  t.regex(e1!.message, /oscillator #2.*frequency.*NaN/)
  t.throws(() => g.oscillator({ frequency: Infinity }), { instanceOf: RangeError, message: /frequency.*Infinity/ })
  t.throws(() => g.oscillator({ frequency: '440' as unknown as number }), { instanceOf: TypeError, message: /frequency.*"440"/ })
  t.throws(() => g.oscillator({ type: 'noise' as 'sine', frequency: 1 }), { instanceOf: TypeError, message: /unknown oscillator type "noise"/ })
  t.throws(() => g.biquad({ type: 'lowpas' as 'lowpass', frequency: 100 }), { instanceOf: TypeError, message: /biquad.*unknown biquad type "lowpas"/ })
  t.throws(() => g.biquad({ type: 'lowpass', frequency: -5 }), { instanceOf: RangeError, message: /frequency.*-5/ })
  t.throws(() => g.biquad({ type: 'lowpass', frequency: 100, q: 0 }), { instanceOf: RangeError, message: /'q' = 0/ })
  t.throws(() => g.gain({ gian: 2 } as unknown as { gain: number }), { instanceOf: TypeError, message: /gain #\d+: unknown parameter 'gian'/ })
  t.throws(() => g.delay({ frames: -1 }), { instanceOf: RangeError, message: /delay #\d+.*'frames' = -1/ })
  t.throws(() => g.delay({ frames: 10.5 }), { instanceOf: RangeError, message: /'frames' = 10.5/ })
  t.throws(() => g.pan({ pan: 2 }), { instanceOf: RangeError, message: /pan.*2/ })
  t.throws(() => g.player({ channels: [new Float32Array(3), new Float32Array(4)] }), { instanceOf: RangeError, message: /channels\[1\] has 4 frames/ })
  t.throws(() => g.player({ channels: [[1, 2]] as unknown as Float32Array[] }), { instanceOf: TypeError, message: /Float32Array/ })
  t.throws(() => g.eq({ bands: [{ type: 'peaking', frequency: 100, gainDb: NaN }] }), { instanceOf: RangeError, message: /bands\[0\]\.gainDb.*NaN/ })
  t.throws(() => g.gain(5 as unknown as { gain: number }), { instanceOf: TypeError })
})

test('connections: unknown nodes, other graphs, sources as targets and cycles are refused', (t) => {
  const g = new Graph()
  const other = new Graph()
  const a = g.gain()
  const b = g.gain()
  const c = g.biquad({ type: 'lowpass', frequency: 1000 })
  const osc = g.oscillator({ frequency: 100 })
  t.throws(() => g.connect(a, other.gain()), { instanceOf: TypeError, message: /belongs to another graph/ })
  t.throws(() => g.connect(a, { id: 99, type: 'gain' }), { instanceOf: TypeError, message: /gain #99 belongs to another graph/ })
  t.throws(() => g.connect(a, osc), { instanceOf: TypeError, message: /oscillator #\d+ takes no input/ })
  t.throws(() => g.connect(g.output, a), { instanceOf: TypeError, message: /master output/ })
  g.chain(a, b, c)
  const e = t.throws(() => g.connect(c, a), { instanceOf: RangeError })
  t.regex(e!.message, /cycle: gain #2 → gain #3 → biquad #4 → gain #2/)
  t.throws(() => g.connect(a, a), { instanceOf: RangeError, message: /cycle/ })
  t.throws(() => g.automate(a, 'frequency', new AutomationLane()), { instanceOf: TypeError, message: /gain #2: unknown parameter 'frequency'/ })
  // The graph is still usable after refusals.
  g.connect(c, g.output)
  t.pass()
})

test('renderOffline refuses bad options and sample-rate-dependent values by name', async (t) => {
  const g = new Graph()
  g.connect(g.biquad({ type: 'lowpass', frequency: 30000 }), g.output)
  const e = await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 10 }), { instanceOf: RangeError })
  t.regex(e!.message, /biquad #2.*'frequency' = 30000.*Nyquist/)
  const ok = new Graph()
  ok.connect(ok.oscillator({ frequency: 100 }), ok.output)
  await t.throwsAsync(renderOffline(ok, { sampleRate: 0, frames: 10 }), { instanceOf: RangeError, message: /sampleRate = 0/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 1e9, frames: 10 }), { instanceOf: RangeError, message: /sampleRate/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 48000, frames: -1 }), { instanceOf: RangeError, message: /frames/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 48000, frames: 1e15 }), { instanceOf: RangeError, message: /exceeds the limit/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 48000, frames: 10, channels: 0 }), { instanceOf: RangeError, message: /channels = 0/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 48000, frames: 10, blockSize: 0 }), { instanceOf: RangeError, message: /blockSize = 0/ })
  await t.throwsAsync(renderOffline(ok, { sampleRate: 48000, frames: 10, input: [new Float32Array(4), new Float32Array(4), new Float32Array(4)] }), { instanceOf: RangeError, message: /input has 3 channels/ })
  await t.throwsAsync(renderOffline({} as Graph, { sampleRate: 48000, frames: 10 }), { instanceOf: TypeError })
  const lane = new AutomationLane().add(0, 100).add(100, 40000)
  const auto = new Graph()
  const f = auto.biquad({ type: 'lowpass', frequency: 1000 })
  auto.chain(auto.oscillator({ frequency: 100 }), f, auto.output).automate(f, 'frequency', lane)
  await t.throwsAsync(renderOffline(auto, { sampleRate: 48000, frames: 10 }), { instanceOf: RangeError, message: /biquad #2.*automation.*40000/ })
  // Still works afterwards.
  const r = await renderOffline(ok, { sampleRate: 48000, frames: 10 })
  t.is(r.channels.length, 2)
})
