import test from 'ava'
import { Engine, Graph, renderOffline, type Spectrum } from '../index'

const fs = 48000

function sine(freq: number, amp: number, frames: number): Float32Array {
  return Float32Array.from({ length: frames }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / fs))
}

/** Least-squares slope in dB per octave of a power spectrum over lo..hi Hz (third-octave band means). */
function slopePerOctave(power: Float64Array, size: number, lo: number, hi: number): number {
  const df = fs / size
  const xs: number[] = []
  const ys: number[] = []
  for (let f = lo; f * 2 ** (1 / 3) <= hi * 1.0001; f *= 2 ** (1 / 3)) {
    const a = Math.ceil(f / df)
    const b = Math.floor((f * 2 ** (1 / 3)) / df)
    let sum = 0
    for (let k = a; k <= b; k++) sum += power[k]
    xs.push(Math.log2(f * 2 ** (1 / 6)))
    ys.push(10 * Math.log10(sum / (b - a + 1)))
  }
  const mx = xs.reduce((a, b) => a + b) / xs.length
  const my = ys.reduce((a, b) => a + b) / ys.length
  let sxy = 0
  let sxx = 0
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i] - my)
    sxx += (x - mx) ** 2
  })
  return sxy / sxx
}

/** Welch average power spectrum by a direct radix-2 FFT written here (Hann, 50% overlap), f64. */
function welch(x: Float32Array, size: number): Float64Array {
  const acc = new Float64Array(size / 2 + 1)
  const re = new Float64Array(size)
  const im = new Float64Array(size)
  let segs = 0
  for (let s = 0; s + size <= x.length; s += size / 2) {
    for (let i = 0; i < size; i++) {
      re[i] = x[s + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size))
      im[i] = 0
    }
    // In-place iterative Cooley-Tukey.
    for (let i = 1, j = 0; i < size; i++) {
      let bit = size >> 1
      for (; j & bit; bit >>= 1) j ^= bit
      j ^= bit
      if (i < j) {
        ;[re[i], re[j]] = [re[j], re[i]]
        ;[im[i], im[j]] = [im[j], im[i]]
      }
    }
    for (let len = 2; len <= size; len <<= 1) {
      const ang = (-2 * Math.PI) / len
      for (let i = 0; i < size; i += len) {
        for (let k = 0; k < len / 2; k++) {
          const wr = Math.cos(ang * k)
          const wi = Math.sin(ang * k)
          const ur = re[i + k]
          const ui = im[i + k]
          const vr = re[i + k + len / 2] * wr - im[i + k + len / 2] * wi
          const vi = re[i + k + len / 2] * wi + im[i + k + len / 2] * wr
          re[i + k] = ur + vr
          im[i + k] = ui + vi
          re[i + k + len / 2] = ur - vr
          im[i + k + len / 2] = ui - vi
        }
      }
    }
    for (let k = 0; k <= size / 2; k++) acc[k] += re[k] * re[k] + im[k] * im[k]
    segs++
  }
  return acc.map((v) => v / segs)
}

test('noise: each colour has its spectral slope, 125 Hz to 8 kHz', async (t) => {
  for (const [color, want] of [['white', 0], ['pink', -3.0103], ['brown', -6.0206]] as const) {
    const g = new Graph()
    g.connect(g.noise({ color, seed: 3 }), g.output)
    const r = await renderOffline(g, { sampleRate: fs, frames: fs * 20, channels: 1 })
    const k = slopePerOctave(welch(r.channels[0], 8192), 8192, 125, 8000)
    t.log(`${color}: ${k.toFixed(3)} dB/oct`)
    t.true(Math.abs(k - want) < 0.2, `${color}: ${k} dB/oct`)
  }
})

test('noise: the same seed gives the same samples at block sizes 1, 7, 128 and 4096', async (t) => {
  const render = async (blockSize: number, seed = 11) => {
    const g = new Graph()
    g.connect(g.noise({ color: 'pink', seed, amplitude: 0.5 }), g.output)
    return (await renderOffline(g, { sampleRate: fs, frames: 10000, blockSize })).channels[0]
  }
  const reference = await render(1)
  for (const b of [7, 128, 4096]) t.deepEqual(await render(b), reference, `block ${b}`)
  t.notDeepEqual(await render(128, 12), reference)
  const white = new Graph()
  white.connect(white.noise({ amplitude: 0.25 }), white.output)
  const w = (await renderOffline(white, { sampleRate: fs, frames: 48000 })).channels[0]
  t.true(w.every((v) => Math.abs(v) <= 0.25))
  t.true(Math.abs(w.reduce((a, b) => a + b) / w.length) < 0.005)
})

test('noise: options are checked', (t) => {
  const g = new Graph()
  t.throws(() => g.noise({ color: 'blue' as never }), { instanceOf: TypeError, message: /noise #2.*blue/ })
  t.throws(() => g.noise({ seed: -1 }), { instanceOf: RangeError, message: /noise #2.*'seed'/ })
  t.throws(() => g.noise({ volume: 1 } as never), { instanceOf: TypeError, message: /noise #2/ })
})

test('analyser: a full-scale sine on a bin reads 0 dB, a -20 dB sine -20 dB, and the audio passes through', async (t) => {
  const bin = 64
  const f = (bin * fs) / 2048
  for (const [amp, want] of [[1, 0], [0.1, -20]]) {
    const g = new Graph()
    g.chain(g.input, g.analyser({ name: 'a' }), g.output)
    const x = sine(f, amp, fs)
    const r = await renderOffline(g, { sampleRate: fs, frames: fs, channels: 1, input: [x] })
    const s: Spectrum = r.spectra.a
    t.deepEqual(r.channels[0], x)
    t.is(s.magnitudesDb.length, 1025)
    t.is(s.frequencies[bin], f)
    t.true(Math.abs(s.magnitudesDb[bin] - want) < 0.1, `${s.magnitudesDb[bin]} dB`)
    let peak = 0
    s.magnitudesDb.forEach((v, k) => {
      if (v > s.magnitudesDb[peak]) peak = k
    })
    t.is(peak, bin)
  }
})

test('analyser: fftSize and smoothing are checked', (t) => {
  const g = new Graph()
  for (const fftSize of [16, 1000, 65536]) {
    t.throws(() => g.analyser({ fftSize }), { instanceOf: RangeError, message: /analyser #2.*'fftSize'/ })
  }
  t.throws(() => g.analyser({ smoothing: 2 }), { instanceOf: RangeError, message: /analyser #2.*'smoothing'/ })
  g.analyser({ name: 'x' })
  t.throws(() => g.analyser({ name: 'x' }), { instanceOf: TypeError, message: /already exists/ })
})

test('analyser: engine.onSpectrum delivers spectra and the waveform in real time', async (t) => {
  const engine = await Engine.openNull({ sampleRate: fs, bufferSize: 128 })
  try {
    const g = new Graph()
    g.chain(g.oscillator({ frequency: (32 * fs) / 1024, amplitude: 0.5 }), g.analyser({ name: 'live', fftSize: 1024, smoothing: 0 }), g.output)
    engine.setGraph(g)
    const got = await new Promise<Spectrum & { waveform: Float32Array }>((resolve) => {
      let n = 0
      const off = engine.onSpectrum((s) => {
        if (++n >= 5 && s.live) {
          off()
          resolve(s.live)
        }
      }, { fps: 30 })
    })
    t.is(got.waveform.length, 1024)
    t.is(got.magnitudesDb.length, 513)
    t.true(Math.abs(got.magnitudesDb[32] + 6.02) < 0.1, `${got.magnitudesDb[32]} dB`)
    t.true(Math.max(...got.waveform) > 0.49)
  } finally {
    await engine.close()
  }
})

/** |H(e^{jw})| in dB of the RBJ cookbook peaking filter, written out here. */
function peakingDb(f0: number, q: number, gainDb: number, f: number): number {
  const A = 10 ** (gainDb / 40)
  const w0 = (2 * Math.PI * f0) / fs
  const alpha = Math.sin(w0) / (2 * q)
  const [b0, b1, b2, a0, a1, a2] = [1 + alpha * A, -2 * Math.cos(w0), 1 - alpha * A, 1 + alpha / A, -2 * Math.cos(w0), 1 - alpha / A]
  const w = (2 * Math.PI * f) / fs
  const mag = (c0: number, c1: number, c2: number) => Math.hypot(c0 + c1 * Math.cos(w) + c2 * Math.cos(2 * w), c1 * Math.sin(w) + c2 * Math.sin(2 * w))
  return 20 * Math.log10(mag(b0, b1, b2) / mag(a0, a1, a2))
}

test('linearPhaseEq: symmetric impulse response, RBJ magnitude, latency (length - 1) / 2', async (t) => {
  const g = new Graph()
  g.chain(g.input, g.linearPhaseEq({ bands: [{ type: 'peaking', frequency: 1000, q: 1, gainDb: 6 }] }), g.output)
  t.is(g.latencyFrames(fs), 2047)
  const impulse = new Float32Array(8192)
  impulse[0] = 1
  const r = await renderOffline(g, { sampleRate: fs, frames: 8192, channels: 1, input: [impulse] })
  t.is(r.latencyFrames, 2047)
  const h = r.channels[0].subarray(0, 4095)
  for (let n = 0; n < 4095; n++) t.true(Math.abs(h[n] - h[4094 - n]) < 1e-6, `tap ${n}`)
  t.true(r.channels[0].subarray(4095).every((v) => Math.abs(v) < 1e-6))
  for (const f of [60, 200, 500, 1000, 2000, 5000, 15000]) {
    let re = 0
    let im = 0
    for (let n = 0; n < 4095; n++) {
      re += h[n] * Math.cos((2 * Math.PI * f * n) / fs)
      im -= h[n] * Math.sin((2 * Math.PI * f * n) / fs)
    }
    const db = 10 * Math.log10(re * re + im * im)
    t.true(Math.abs(db - peakingDb(1000, 1, 6, f)) < 0.1, `${f} Hz: ${db} vs ${peakingDb(1000, 1, 6, f)}`)
  }
})

test('linearPhaseEq: a dry path beside it arrives aligned', async (t) => {
  const g = new Graph()
  const eq = g.linearPhaseEq({ bands: [{ type: 'peaking', frequency: 1000, gainDb: 0 }], length: 255 })
  g.chain(g.input, eq, g.output)
  g.connect(g.input, g.output)
  const x = sine(440, 0.25, 2000)
  const r = await renderOffline(g, { sampleRate: fs, frames: 2000, channels: 1, input: [x] })
  t.is(r.latencyFrames, 127)
  for (let i = 0; i < 2000; i++) {
    const want = i >= 127 ? 2 * x[i - 127] : 0
    if (Math.abs(r.channels[0][i] - want) > 1e-5) return t.fail(`frame ${i}: ${r.channels[0][i]} vs ${want}`)
  }
  t.pass()
})

test('linearPhaseEq: length and bands are checked', (t) => {
  const g = new Graph()
  const bands = [{ type: 'peaking' as const, frequency: 1000, gainDb: 3 }]
  for (const length of [4096, 13, 65537, 100.5]) {
    t.throws(() => g.linearPhaseEq({ bands, length }), { instanceOf: RangeError, message: /linearPhaseEq #2.*'length'/ })
  }
  t.throws(() => g.linearPhaseEq({ bands: [{ type: 'wobble' as never, frequency: 1 }] }), { instanceOf: TypeError, message: /linearPhaseEq #2/ })
  t.throws(() => g.linearPhaseEq({} as never), { instanceOf: TypeError, message: /linearPhaseEq #2.*bands/ })
})

test('the new nodes survive toJSON / fromJSON', async (t) => {
  const g = new Graph()
  g.chain(g.noise({ color: 'brown', seed: 5 }), g.linearPhaseEq({ bands: [{ type: 'highshelf', frequency: 4000, gainDb: -3 }], length: 511 }), g.analyser({ name: 's', fftSize: 256 }), g.output)
  const back = Graph.fromJSON(g.toJSON())
  const a = await renderOffline(g, { sampleRate: fs, frames: 3000 })
  const b = await renderOffline(back, { sampleRate: fs, frames: 3000 })
  t.deepEqual(b.channels, a.channels)
  t.deepEqual(b.spectra.s.magnitudesDb, a.spectra.s.magnitudesDb)
})
