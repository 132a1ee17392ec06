import test from 'ava'
import { Engine, Graph, renderOffline, type MeterReading } from '../index'

const fs = 48000

function sine(freq: number, amp: number, frames: number, phase = 0): Float32Array {
  return Float32Array.from({ length: frames }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / fs + phase))
}

async function meterOf(input: Float32Array[], frames: number): Promise<MeterReading> {
  const g = new Graph()
  g.chain(g.input, g.meter({ name: 'm' }), g.output)
  const r = await renderOffline(g, { sampleRate: fs, frames, channels: input.length, input })
  return r.meters.m
}

test('a 1 kHz stereo sine at -23 dBFS reads -23.0 LUFS integrated, momentary and short-term (EBU Tech 3341 case 1)', async (t) => {
  const x = sine(1000, 10 ** (-23 / 20), fs * 20)
  const m = await meterOf([x, x], x.length)
  t.log(m)
  t.true(Math.abs(m.integratedLufs + 23) <= 0.1, `integrated ${m.integratedLufs}`)
  t.true(Math.abs(m.momentaryLufs + 23) <= 0.1, `momentary ${m.momentaryLufs}`)
  t.true(Math.abs(m.shortTermLufs + 23) <= 0.1, `short-term ${m.shortTermLufs}`)
  t.true(Math.abs(m.peakDb + 23) < 0.01)
  t.true(Math.abs(m.rmsDb - (-23 - 20 * Math.log10(Math.SQRT2))) < 0.01)
})

test('gating: -36 / -23 / -36 dBFS tone segments read -23.0 LUFS integrated (Tech 3341 case 3)', async (t) => {
  const seg = (db: number, s: number) => sine(1000, 10 ** (db / 20), fs * s)
  const parts = [seg(-36, 10), seg(-23, 60), seg(-36, 10)]
  const x = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    x.set(p, o)
    o += p.length
  }
  const m = await meterOf([x, x], x.length)
  t.true(Math.abs(m.integratedLufs + 23) <= 0.1, `integrated ${m.integratedLufs}`)
})

test('loudness range: 20 s at -20 dBFS then 20 s at -30 dBFS reads 10 LU (Tech 3342 case 1)', async (t) => {
  const a = sine(1000, 10 ** (-20 / 20), fs * 20)
  const b = sine(1000, 10 ** (-30 / 20), fs * 20)
  const x = new Float32Array(a.length + b.length)
  x.set(a)
  x.set(b, a.length)
  const m = await meterOf([x, x], x.length)
  t.true(Math.abs(m.loudnessRangeLu - 10) <= 1, `LRA ${m.loudnessRangeLu}`)
})

test('a tone whose peaks fall between samples reads its true peak', async (t) => {
  // fs/4 with a 45° phase: every sample lands at ±0.7071 of the peak.
  const x = sine(fs / 4, 1, fs, Math.PI / 4)
  const m = await meterOf([x, x], x.length)
  t.true(Math.abs(m.peakDb + 3.01) < 0.02, `sample peak ${m.peakDb}`)
  t.true(Math.abs(m.truePeakDb) < 0.2, `true peak ${m.truePeakDb}`)
})

test('silence reads -Infinity; meters are keyed by name or id', async (t) => {
  const g = new Graph()
  const named = g.meter({ name: 'bus' })
  const anon = g.meter()
  g.chain(g.constant({ value: 0 }), named, anon, g.output)
  const r = await renderOffline(g, { sampleRate: fs, frames: fs })
  t.deepEqual(Object.keys(r.meters).sort(), ['bus', String(anon.id)].sort())
  t.is(r.meters.bus.peakDb, -Infinity)
  t.is(r.meters.bus.integratedLufs, -Infinity)
  t.throws(() => g.meter({ name: 'bus' }), { instanceOf: TypeError, message: /already exists/ })
})

test('real time: loudness fields arrive with the meters, peaks fall when the signal stops, resetMeter restarts integration', async (t) => {
  const engine = await Engine.openNull({ sampleRate: fs, bufferSize: 128 })
  try {
    const g = new Graph()
    const gain = g.gain({ gain: 1 })
    g.chain(g.oscillator({ frequency: 1000, amplitude: 10 ** (-23 / 20) }), gain, g.meter({ name: 'out' }), g.output)
    engine.setGraph(g)
    let last: MeterReading | undefined
    const off = engine.onMeters((m) => (last = m.out), { fps: 20 })
    await new Promise((r) => setTimeout(r, 1500))
    t.truthy(last)
    // A mono-duplicated sine into 2 channels: the stereo case, -23 LUFS.
    t.true(Math.abs(last!.momentaryLufs + 23) < 0.2, `momentary ${last!.momentaryLufs}`)
    t.true(Math.abs(last!.integratedLufs + 23) < 0.2, `integrated ${last!.integratedLufs}`)
    engine.setParam(gain, 'gain', 0, { rampMs: 0 })
    await new Promise((r) => setTimeout(r, 300))
    t.is(last!.peakDb, -Infinity, 'the interval peak falls when the signal stops')
    t.true(last!.integratedLufs > -24, 'integration keeps the loud part')
    engine.resetMeter('out')
    await new Promise((r) => setTimeout(r, 300))
    t.is(last!.integratedLufs, -Infinity, 'after resetMeter only silence was integrated')
    off()
  } finally {
    await engine.close()
  }
})
