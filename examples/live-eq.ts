// A live EQ with meters and a spectrum in the terminal: a saw tone through a
// three-band EQ whose mid band sweeps while it plays, with a meter before and
// after the EQ and an analyser after it.
// Runs on the clock-paced null backend (no sound card needed) unless a device
// is given.
//
//   npx tsx examples/live-eq.ts [--seconds 5] [--device <id from examples/devices.ts>]
//   FERRITE_EXAMPLE_SECONDS=1 npx tsx examples/live-eq.ts
import { Engine, Graph, type MeterReading } from '../index'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const seconds = Number(arg('seconds') ?? process.env.FERRITE_EXAMPLE_SECONDS ?? 5)
const device = arg('device')
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${arg('seconds')}`)

/** A 40-column level bar from -60 to 0 dB. */
function bar(db: number): string {
  const width = 40
  const filled = Number.isFinite(db) ? Math.max(0, Math.min(width, Math.round(((db + 60) / 60) * width))) : 0
  return '█'.repeat(filled) + '·'.repeat(width - filled)
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1).padStart(6) : '  -inf')

function line(name: string, m: MeterReading): string {
  return `${name.padEnd(4)} ${bar(m.peakDb)} peak ${fmt(m.peakDb)} dB  rms ${fmt(m.rmsDb)} dB  short-term ${fmt(m.shortTermLufs)} LUFS`
}

/** A 48-column spectrum, 50 Hz to 16 kHz on a log axis, -90 to 0 dB per column. */
function spectrum(frequencies: Float32Array, db: Float32Array): { bars: string; peakHz: number } {
  const levels = ' ▁▂▃▄▅▆▇█'
  const cols = 48
  let bars = ''
  for (let c = 0; c < cols; c++) {
    const lo = 50 * (16000 / 50) ** (c / cols)
    const hi = 50 * (16000 / 50) ** ((c + 1) / cols)
    let top = -Infinity
    for (let k = 0; k < frequencies.length; k++) if (frequencies[k] >= lo && frequencies[k] < hi) top = Math.max(top, db[k])
    const v = Number.isFinite(top) ? Math.max(0, Math.min(1, (top + 90) / 90)) : 0
    bars += levels[Math.round(v * (levels.length - 1))]
  }
  let peak = 1
  for (let k = 2; k < db.length; k++) if (db[k] > db[peak]) peak = k
  return { bars, peakHz: frequencies[peak] }
}

async function main(): Promise<void> {
  const engine = device ? await Engine.open({ device, sampleRate: 48000, bufferSize: 256 }) : await Engine.openNull({ sampleRate: 48000, bufferSize: 256 })
  console.log(`${device ? `device ${device}` : 'null backend'}: ${engine.sampleRate} Hz, ${engine.bufferSize}-frame buffers, ${seconds} s`)

  const g = new Graph()
  const eq = g.eq({
    bands: [
      { type: 'highpass', frequency: 60 },
      { type: 'peaking', frequency: 400, q: 2, gainDb: 9 },
      { type: 'highshelf', frequency: 5000, gainDb: -6 },
    ],
  })
  g.chain(g.oscillator({ type: 'saw', frequency: 110, amplitude: 0.25 }), g.meter({ name: 'in' }), eq, g.analyser({ name: 'eq', fftSize: 4096 }), g.gain({ gain: 0.5 }), g.meter({ name: 'out' }), g.output)
  engine.setGraph(g)

  const tty = process.stdout.isTTY
  let frames = 0
  const off = engine.onMeters(
    (m) => {
      if (!m.in || !m.out) return
      frames++
      const text = `${line('in', m.in)}\n${line('out', m.out)}`
      if (tty) process.stdout.write(`${frames > 1 ? '\x1b[2A' : ''}\r\x1b[K${text.replace('\n', '\n\x1b[K')}\n`)
      else if (frames % 5 === 1) console.log(text) // a log: fewer lines
    },
    { fps: tty ? 20 : 10 },
  )

  // The spectrum after the EQ: the analyser's FFTs run on the engine's events thread.
  let spectra = 0
  const offSpectrum = engine.onSpectrum(
    (all) => {
      const s = all.eq
      if (!s || spectra++ % (tty ? 1 : 5) !== 0) return
      const { bars, peakHz } = spectrum(s.frequencies, s.magnitudesDb)
      const text = `spec ${bars} peak ${peakHz.toFixed(0).padStart(5)} Hz`
      if (tty) process.stdout.write(`\x1b[s\x1b[3B\r\x1b[K${text}\x1b[u`)
      else console.log(text)
    },
    { fps: 10 },
  )

  // Sweep the peaking band's centre 200 Hz → 3.2 kHz and back while it plays.
  const start = Date.now()
  const sweep = setInterval(() => {
    const t = ((Date.now() - start) / 1000 / seconds) % 1
    const f = 200 * 16 ** (1 - Math.abs(2 * t - 1))
    engine.setParam(eq, 'bands[1].frequency', f, { rampMs: 50 })
  }, 50)

  await new Promise((r) => setTimeout(r, seconds * 1000))
  clearInterval(sweep)
  off()
  offSpectrum()
  const s = engine.stats()
  await engine.close()
  console.log(`done: ${frames} meter updates, ${spectra} spectra, ${s.callbacks} callbacks, ${s.xruns} xruns, p99 ${s.p99Us.toFixed(0)} µs of ${s.budgetUs.toFixed(0)} µs, kernels ${s.simd}`)
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 1
})
