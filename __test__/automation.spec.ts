import test from 'ava'
import { AutomationLane, Engine, Graph, renderOffline, type Curve } from '../index'
import { rbj } from './helpers'

function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 4294967296
  }
}

function randomLane(seed: number, frames: number): AutomationLane {
  const r = rng(seed)
  const curves: Curve[] = ['linear', 'step', 'exponential', 'scurve']
  const lane = new AutomationLane()
  const n = 2 + Math.floor(r() * 12)
  for (let i = 0; i < n; i++) lane.add(Math.floor(r() * frames), r() * 4 - 2, curves[Math.floor(r() * 4)])
  return lane
}

test('valueAt follows the API formulas for each curve', (t) => {
  const f: Record<Curve, (x: number) => number> = { linear: (x) => x, step: () => 0, exponential: (x) => x * x, scurve: (x) => x * x * (3 - 2 * x) }
  for (const curve of Object.keys(f) as Curve[]) {
    const lane = new AutomationLane([{ frame: 100, value: 1, curve }, { frame: 300, value: 5 }])
    t.is(lane.valueAt(0), 1)
    t.is(lane.valueAt(100), 1)
    t.is(lane.valueAt(300), 5)
    t.is(lane.valueAt(1e6), 5)
    for (const p of [101, 150, 200, 299]) t.true(Math.abs(lane.valueAt(p) - (1 + 4 * f[curve]((p - 100) / 200))) < 1e-12)
  }
  t.is(new AutomationLane().valueAt(5), 0)
  t.throws(() => new AutomationLane().add(-1, 0), { instanceOf: RangeError })
  t.throws(() => new AutomationLane().add(1.5, 0), { instanceOf: RangeError })
  t.throws(() => new AutomationLane().add(1, NaN), { instanceOf: RangeError })
  t.throws(() => new AutomationLane().add(1, 0, 'cubic' as Curve), { instanceOf: TypeError })
})

test('a gain lane renders exactly what valueAt says, frame for frame, at block sizes 1, 97 and 128', async (t) => {
  const frames = 6000
  for (const seed of [1, 2, 3, 4, 5]) {
    const lane = randomLane(seed, frames)
    const outs: Float32Array[] = []
    for (const blockSize of [1, 97, 128]) {
      const g = new Graph()
      const gain = g.gain()
      g.chain(g.constant({ value: 1 }), gain, g.output).automate(gain, 'gain', lane)
      const r = await renderOffline(g, { sampleRate: 48000, frames, channels: 1, blockSize })
      outs.push(r.channels[0])
    }
    t.deepEqual(outs[1], outs[0])
    t.deepEqual(outs[2], outs[0])
    let bad = -1
    for (let p = 0; p < frames && bad < 0; p++) if (outs[0][p] !== Math.fround(lane.valueAt(p))) bad = p
    t.is(bad, -1, `seed ${seed}: frame ${bad} is ${outs[0][bad]}, valueAt says ${lane.valueAt(bad)}`)
  }
})

test('a step at frame 1000 changes frame 1000 and not 999', async (t) => {
  const g = new Graph()
  const gain = g.gain()
  g.chain(g.oscillator({ frequency: 1000 }), gain, g.output)
  g.automate(gain, 'gain', new AutomationLane().add(0, 1, 'step').add(1000, 0, 'step'))
  const r = await renderOffline(g, { sampleRate: 48000, frames: 1200, channels: 1, blockSize: 128 })
  t.not(r.channels[0][999], 0)
  t.true(r.channels[0].subarray(1000).every((x) => x === 0))
})

test('a lowpass sweep from 200 Hz to 8 kHz renders cleanly: per-frame RBJ coefficients, TDF-II, as computed in the test', async (t) => {
  const fs = 48000
  const frames = fs * 2
  const lane = new AutomationLane().add(0, 200, 'exponential').add(frames - 1, 8000)
  const x = new Float32Array(frames)
  for (let i = 0; i < frames; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 3000 * i) / fs) + 0.3 * Math.sin((2 * Math.PI * 150 * i) / fs)
  const g = new Graph()
  const lp = g.biquad({ type: 'lowpass', frequency: 200, q: 2 })
  g.chain(g.input, lp, g.output).automate(lp, 'frequency', lane)
  const r = await renderOffline(g, { sampleRate: fs, frames, channels: 1, input: [x] })
  // Reference: coefficients from this frame's lane value, transposed direct form II.
  let s1 = 0
  let s2 = 0
  let maxErr = 0
  let maxStep = 0
  for (let n = 0; n < frames; n++) {
    const c = rbj('lowpass', lane.valueAt(n), 2, 0, fs)
    const y = c.b0 * x[n] + s1
    s1 = c.b1 * x[n] - c.a1 * y + s2
    s2 = c.b2 * x[n] - c.a2 * y
    maxErr = Math.max(maxErr, Math.abs(r.channels[0][n] - y))
    if (n > 0) maxStep = Math.max(maxStep, Math.abs(r.channels[0][n] - r.channels[0][n - 1]))
  }
  t.log(`max error vs reference ${maxErr.toExponential(2)}, largest sample step ${maxStep.toFixed(3)}`)
  t.true(maxErr < 1e-5)
  t.true(r.channels[0].every(Number.isFinite))
  // No clicks: no sample-to-sample jump larger than the input's own can produce through a resonant lowpass.
  t.true(maxStep < 0.5)
  // The 3 kHz tone opens up as the cutoff passes it.
  const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length)
  t.true(rms(r.channels[0].subarray(frames - 4800)) > 1.5 * rms(r.channels[0].subarray(24000, 28800)))
})

test('setAutomation replaces lanes on a playing engine; bad lanes are refused by name', async (t) => {
  const engine = await Engine.openNull()
  try {
    const g = new Graph()
    const gain = g.gain()
    g.chain(g.oscillator({ frequency: 440 }), gain, g.meter({ name: 'm' }), g.output).automate(gain, 'gain', new AutomationLane().add(0, 0.5))
    engine.setGraph(g)
    t.throws(() => engine.setParam(gain, 'gain', 0.1), { instanceOf: RangeError, message: /automation lane/ })
    engine.setAutomation([{ node: gain, param: 'gain', lane: new AutomationLane().add(0, 0.01) }])
    await new Promise((r) => setTimeout(r, 300))
    const readings: number[] = []
    const off = engine.onMeters((m) => readings.push(m.m.peakDb), { fps: 20 })
    await new Promise((r) => setTimeout(r, 300))
    off()
    t.true(readings.length > 0 && readings.every((p) => p < -35), readings.join(','))
    t.throws(() => engine.setAutomation([{ node: gain, param: 'gian', lane: new AutomationLane() }]), { instanceOf: TypeError, message: /gain #\d+: unknown parameter 'gian'/ })
    t.throws(() => engine.setAutomation([{ node: 99, param: 'gain', lane: new AutomationLane() }]), { instanceOf: TypeError, message: /#99/ })
    t.throws(() => engine.setAutomation('x' as unknown as Graph), { instanceOf: TypeError })
    engine.setAutomation([])
    engine.setParam(gain, 'gain', 0.2)
    engine.setAutomation(g)
  } finally {
    await engine.close()
  }
})
