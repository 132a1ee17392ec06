// The demo: a short piece built as a graph in TypeScript — a band-limited saw
// bass through a filter sweep, square-wave chords through an EQ, a delayed
// lead, a looped noise hat, all panned into a master compressor, limiter and
// meter. Plays on the default device when there is a sound card; otherwise
// (headless servers, CI) renders it to demo.wav and prints the meters.
//
//   npm run demo            # play, or render to demo.wav
//   npm run demo -- --wav   # always render to demo.wav
import { AutomationLane, Engine, Graph, listDevices, renderOffline, secondsToFrames, writeWav, type NodeRef } from '../index'

const sampleRate = 48000
const seconds = 8
const bpm = 120
const beat = secondsToFrames(60 / bpm, sampleRate)

function buildGraph(): Graph {
  const g = new Graph()
  const master = g.gain({ gain: 0.8 })
  const comp = g.compressor({ thresholdDb: -18, ratio: 3, attackMs: 5, releaseMs: 120, kneeDb: 6, makeupDb: 2 })
  const limiter = g.limiter({ ceilingDb: -1, lookaheadMs: 5 })
  const meter = g.meter({ name: 'master' })
  g.chain(master, comp, limiter, meter, g.output)

  const track = (src: NodeRef, fx: NodeRef[], pan: number, gain: number): NodeRef => {
    const p = g.pan({ pan })
    const v = g.gain({ gain })
    g.chain(src, ...fx, p, v, master)
    return v
  }

  // Bass: saw through a lowpass whose cutoff sweeps up and back down.
  const bass = g.oscillator({ type: 'saw', frequency: 55, amplitude: 0.5 })
  const lp = g.biquad({ type: 'lowpass', frequency: 300, q: 4 })
  g.automate(lp, 'frequency', new AutomationLane().add(0, 200, 'exponential').add(beat * 8, 4000, 'scurve').add(beat * 16, 300))
  const bassGain = track(bass, [lp], 0, 0.6)
  // Bass notes: A, F, C, G, two beats each (a stepped frequency lane).
  const notes = new AutomationLane()
  ;[55, 43.65, 65.41, 49].forEach((f, i) => {
    notes.add(beat * 2 * i, f, 'step')
    notes.add(beat * 2 * (i + 4), f, 'step')
  })
  g.automate(bass, 'frequency', notes)
  // A pumping gain on the bass, once per beat.
  const pump = new AutomationLane()
  for (let b = 0; b < 16; b++) pump.add(b * beat, 0.15, 'scurve').add(b * beat + beat / 4, 0.6)
  g.automate(bassGain, 'gain', pump)

  // Chords: three squares through a shaping EQ.
  const chordEq = g.eq({ bands: [{ type: 'highpass', frequency: 150 }, { type: 'peaking', frequency: 2500, q: 1.5, gainDb: -6 }, { type: 'highshelf', frequency: 6000, gainDb: -9 }] })
  for (const [f, pan] of [[220, -0.6], [277.18, 0], [329.63, 0.6]] as const) {
    track(g.oscillator({ type: 'square', frequency: f, amplitude: 0.08 }), [chordEq], pan, 1)
  }

  // Lead: a triangle through a feedback delay, panned right.
  const lead = g.oscillator({ type: 'triangle', frequency: 880, amplitude: 0.12 })
  const melody = new AutomationLane()
  ;[880, 987.77, 1046.5, 1318.5, 1174.7, 1046.5, 987.77, 880].forEach((f, i) => melody.add(i * beat, f, 'step'))
  g.automate(lead, 'frequency', melody)
  track(lead, [g.delay({ frames: Math.round(beat * 0.75), feedback: 0.45, mix: 0.35 })], 0.5, 0.9)

  // Hat: a looped burst of noise, a sixteenth note long, through a highpass.
  const sixteenth = Math.round(beat / 4)
  const hat = new Float32Array(sixteenth)
  let s = 12345
  for (let i = 0; i < hat.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0
    hat[i] = ((s / 2 ** 32) * 2 - 1) * Math.exp(-i / (sixteenth / 8)) * 0.3
  }
  track(g.player({ channels: [hat], loop: true }), [g.biquad({ type: 'highpass', frequency: 7000 })], -0.3, 1)
  return g
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : String(x)
}

async function play(deviceName: string): Promise<void> {
  const engine = await Engine.open({ sampleRate })
  engine.setGraph(buildGraph())
  console.log(`playing ${seconds} s on ${deviceName} (${engine.sampleRate} Hz, ${engine.bufferSize}-frame buffer, latency ${engine.latencyFrames} frames)`)
  const off = engine.onMeters((m) => {
    const r = m.master
    if (r) process.stdout.write(`\r  peak ${fmt(r.peakDb)} dBFS   momentary ${fmt(r.momentaryLufs)} LUFS   `)
  }, { fps: 10 })
  await new Promise((r) => setTimeout(r, seconds * 1000))
  off()
  const st = engine.stats()
  await engine.close()
  console.log(`\n  callbacks ${st.callbacks}, xruns ${st.xruns}, p99 ${st.p99Us.toFixed(0)} µs of ${st.budgetUs.toFixed(0)} µs, simd ${st.simd}`)
}

async function render(): Promise<void> {
  const frames = secondsToFrames(seconds, sampleRate)
  const t0 = process.hrtime.bigint()
  const r = await renderOffline(buildGraph(), { sampleRate, frames })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  writeWav('demo.wav', r.channels, sampleRate, { bitDepth: 24 })
  let peak = 0
  for (const c of r.channels) for (const x of c) peak = Math.max(peak, Math.abs(x))
  console.log(`rendered demo.wav: ${seconds} s, ${r.channels.length} channels, ${sampleRate} Hz, 24-bit`)
  console.log(`  duration     ${(frames / sampleRate).toFixed(2)} s`)
  console.log(`  peak         ${fmt(20 * Math.log10(peak))} dBFS (sample)`)
  console.log(`  render speed ${((frames / sampleRate) / (ms / 1000)).toFixed(1)}x real time (${ms.toFixed(0)} ms)`)
  console.log(`  latency      ${r.latencyFrames} frames (the limiter's lookahead, compensated)`)
  for (const [name, m] of Object.entries(r.meters)) {
    console.log(`  meter '${name}': peak ${fmt(m.peakDb)} dBFS, true peak ${fmt(m.truePeakDb)} dBTP, RMS ${fmt(m.rmsDb)} dBFS, integrated ${fmt(m.integratedLufs)} LUFS, range ${fmt(m.loudnessRangeLu)} LU`)
  }
}

async function main(): Promise<void> {
  const forceWav = process.argv.includes('--wav')
  // ALSA's `null` PCM is always listed; it is not a sound card.
  const real = forceWav ? [] : listDevices().filter((d) => d.outputChannels > 0 && !/null|discard/i.test(`${d.id} ${d.name}`))
  const dflt = real.find((d) => d.isDefault)
  if (dflt) {
    try {
      await play(dflt.name)
      return
    } catch (e) {
      console.log(`could not play on ${dflt.name} (${(e as Error).message}); rendering to a file instead`)
    }
  } else if (!forceWav) {
    console.log('no sound card found: rendering to demo.wav instead')
  }
  await render()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
