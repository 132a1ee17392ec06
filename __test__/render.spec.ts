import test from 'ava'
import { Graph, AutomationLane, renderOffline, type BiquadType } from '../index'
import { rbj, df1, noise, maxAbsDiff } from './helpers'

const TYPES: BiquadType[] = ['lowpass', 'highpass', 'bandpass', 'notch', 'allpass', 'peaking', 'lowshelf', 'highshelf']

test('every biquad type matches the RBJ cookbook (f64 direct form I in the test)', async (t) => {
  const fs = 48000
  const x = noise(4096, 7)
  const cases: Array<[number, number, number]> = [[40, 0.5, -12], [1000, Math.SQRT1_2, 6], [9000, 4, 18], [21000, 1.3, -3]]
  for (const type of TYPES) {
    for (const [f, q, gainDb] of cases) {
      const g = new Graph()
      g.chain(g.input, g.biquad({ type, frequency: f, q, gainDb }), g.output)
      const r = await renderOffline(g, { sampleRate: fs, frames: x.length, channels: 1, input: [x] })
      const ref = df1(rbj(type, f, q, gainDb, fs), x)
      const peak = Math.max(...Array.from(ref, Math.abs), 1)
      const err = maxAbsDiff(r.channels[0], ref) / peak
      t.true(err < 1e-6, `${type} f=${f} q=${q} g=${gainDb}: relative error ${err}`)
    }
  }
})

test('renders are identical for block sizes 1, 37, 64 and 128', async (t) => {
  const fs = 44100
  const make = () => {
    const g = new Graph()
    const saw = g.oscillator({ type: 'saw', frequency: 220, amplitude: 0.3 })
    const sq = g.oscillator({ type: 'square', frequency: 330.5, amplitude: 0.2, phase: 1 })
    const pl = g.player({ channels: [noise(3000, 3)], loop: true, startFrame: 100 })
    const eq = g.eq({ bands: [{ type: 'lowshelf', frequency: 200, gainDb: 4 }, { type: 'peaking', frequency: 2500, q: 3, gainDb: -6 }, { type: 'highpass', frequency: 40 }] })
    const d = g.delay({ frames: 1234, feedback: 0.5, mix: 0.4 })
    const p = g.pan({ pan: 0.3 })
    const gain = g.gain({ gain: 0.7 })
    g.connect(saw, eq).connect(sq, eq).connect(pl, eq).connect(g.input, eq)
    g.chain(eq, d, p, gain, g.output)
    g.automate(gain, 'gain', new AutomationLane().add(0, 0.2).add(5000, 1, 'scurve').add(9000, 0.5, 'step').add(12000, 0.1, 'exponential').add(15000, 0.9))
    g.automate(eq, 'bands[1].frequency', new AutomationLane().add(2000, 500).add(14000, 8000))
    return g
  }
  const input = [noise(20000, 11), noise(20000, 12)]
  const results = []
  for (const blockSize of [1, 37, 64, 128]) {
    results.push(await renderOffline(make(), { sampleRate: fs, frames: 20000, blockSize, input }))
  }
  for (const r of results.slice(1)) {
    for (let c = 0; c < 2; c++) t.deepEqual(r.channels[c], results[0].channels[c])
  }
  t.true(Math.max(...Array.from(results[0].channels[0], Math.abs)) > 0.05)
})

test('a sine has the analytic RMS and the API channel layout', async (t) => {
  const g = new Graph()
  g.connect(g.oscillator({ frequency: 1000, amplitude: 0.5 }), g.output)
  const r = await renderOffline(g, { sampleRate: 48000, frames: 48000, channels: 3 })
  t.is(r.channels.length, 3)
  for (const c of r.channels) {
    t.true(c instanceof Float32Array)
    t.is(c.length, 48000)
    let s = 0
    for (const x of c) s += x * x
    const rms = Math.sqrt(s / c.length)
    t.true(Math.abs(rms - 0.5 / Math.SQRT2) < 1e-5, `rms ${rms}`)
  }
  t.deepEqual(r.meters, {})
  t.is(r.latencyFrames, 0)
  for (let i = 0; i < 100; i++) t.true(Math.abs(r.channels[0][i] - 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 48000)) < 1e-6)
})

test('delay impulse response with feedback and mix; gain and constant; summing', async (t) => {
  const imp = new Float32Array(1000)
  imp[0] = 1
  const g = new Graph()
  g.chain(g.input, g.delay({ frames: 100, feedback: 0.5, mix: 0.5 }), g.output)
  const r = await renderOffline(g, { sampleRate: 48000, frames: 1000, channels: 1, input: [imp] })
  const want = new Float32Array(1000)
  want[0] = 0.5
  for (let k = 1; k * 100 < 1000; k++) want[k * 100] = 0.5 * Math.pow(0.5, k - 1)
  t.true(maxAbsDiff(r.channels[0], want) < 1e-7)

  const s = new Graph()
  const a = s.constant({ value: 0.25 })
  const b = s.constant({ value: 0.5 })
  const gn = s.gain({ gain: -2 })
  s.connect(a, gn).connect(b, gn).connect(gn, s.output).connect(b, s.output)
  const rs = await renderOffline(s, { sampleRate: 8000, frames: 16 })
  for (const c of rs.channels) for (const x of c) t.is(x, -1.5 + 0.5)
})

test('player: start frame, loop, mono to every channel', async (t) => {
  const buf = new Float32Array([1, 2, 3, 4])
  const g = new Graph()
  g.connect(g.player({ channels: [buf], loop: true, startFrame: 3 }), g.output)
  const r = await renderOffline(g, { sampleRate: 8000, frames: 12 })
  const want = [0, 0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 1]
  t.deepEqual(Array.from(r.channels[0]), want)
  t.deepEqual(Array.from(r.channels[1]), want)
  const once = new Graph()
  once.connect(once.player({ channels: [buf, new Float32Array([5, 6, 7, 8])] }), once.output)
  const r2 = await renderOffline(once, { sampleRate: 8000, frames: 6 })
  t.deepEqual(Array.from(r2.channels[1]), [5, 6, 7, 8, 0, 0])
})

test('constant-power pan', async (t) => {
  for (const pan of [-1, -0.5, 0, 0.25, 1]) {
    const g = new Graph()
    g.chain(g.constant({ value: 1 }), g.pan({ pan }), g.output)
    const r = await renderOffline(g, { sampleRate: 8000, frames: 4 })
    const th = ((pan + 1) * Math.PI) / 4
    t.true(Math.abs(r.channels[0][2] - Math.cos(th)) < 1e-7)
    t.true(Math.abs(r.channels[1][2] - Math.sin(th)) < 1e-7)
  }
})

test('a long render runs off the event loop: timers keep firing', async (t) => {
  const g = new Graph()
  for (let i = 0; i < 8; i++) {
    g.chain(g.oscillator({ type: 'saw', frequency: 100 + i * 37, amplitude: 0.05 }), g.eq({ bands: [{ type: 'peaking', frequency: 1000, gainDb: 3 }, { type: 'lowpass', frequency: 5000 }] }), g.output)
  }
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  const t0 = Date.now()
  const r = await renderOffline(g, { sampleRate: 48000, frames: 48000 * 120 })
  const elapsed = Date.now() - t0
  clearInterval(timer)
  t.is(r.channels[0].length, 48000 * 120)
  t.log(`120 s rendered in ${elapsed} ms; ${ticks} timer ticks meanwhile`)
  // A blocked event loop would fire at most once; a free one fires about elapsed/5 times.
  t.true(ticks >= Math.min(20, Math.floor(elapsed / 50)), `${ticks} ticks in ${elapsed} ms`)
})

test('long outputs collected by JavaScript are reused by later renders: every sample is the new render\'s, a held output is untouched', async (t) => {
  // ava runs with --expose-gc (package.json): collecting an output hands its
  // memory back to the engine, and the next render of a similar length
  // writes into it (`FERRITE_OUTPUT_POOL`).
  const gc = (globalThis as { gc?: () => void }).gc
  t.is(typeof gc, 'function', 'node runs with --expose-gc')
  const frames = 48000 * 6 // 1.1 MB per channel: pooled
  const render = (value: number, n: number) => {
    const g = new Graph()
    g.chain(g.constant({ value }), g.gain({ gain: 1 }), g.output)
    return renderOffline(g, { sampleRate: 48000, frames: n, channels: 2 })
  }
  const held = (await render(0.5, frames)).channels
  for (let i = 1; i <= 6; i++) {
    const n = frames - 37 * i
    let r: Awaited<ReturnType<typeof render>> | null = await render(-i / 8, n)
    t.deepEqual(r.channels.map((c) => c.length), [n, n])
    for (const c of r.channels) t.true(c.every((v) => v === -i / 8), `render ${i}: only its own samples`)
    r = null
    gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (const c of held) t.true(c.length === frames && c.every((v) => v === 0.5), 'the held output is intact')
})
