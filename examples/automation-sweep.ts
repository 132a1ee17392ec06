// An automation sweep rendered offline: a saw through a resonant lowpass whose
// cutoff sweeps 200 Hz → 8 kHz (evenly in pitch: breakpoints on a log scale,
// linear between them), with an s-curve fade-in and fade-out on the gain.
//
//   npx tsx examples/automation-sweep.ts [out.wav] [--seconds 4]
//   FERRITE_EXAMPLE_SECONDS=1 npx tsx examples/automation-sweep.ts sweep.wav
import { AutomationLane, Graph, renderOffline, secondsToFrames, writeWav } from '../index'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const sampleRate = 48000
const seconds = Number(arg('seconds') ?? process.env.FERRITE_EXAMPLE_SECONDS ?? 4)
const out = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--'))) ?? 'sweep.wav'
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${arg('seconds')}`)

async function main(): Promise<void> {
  const frames = secondsToFrames(seconds, sampleRate)
  const g = new Graph()
  const filter = g.biquad({ type: 'lowpass', frequency: 200, q: 4 })
  const fader = g.gain({ gain: 0 })
  g.chain(g.oscillator({ type: 'saw', frequency: 55, amplitude: 0.5 }), filter, fader, g.limiter({ ceilingDb: -1 }), g.meter({ name: 'out' }), g.output)

  // 200 Hz → 8 kHz: 32 breakpoints equally spaced in log-frequency.
  const cutoff = new AutomationLane()
  const steps = 32
  for (let i = 0; i <= steps; i++) cutoff.add(Math.round((frames * i) / steps), 200 * 40 ** (i / steps))
  g.automate(filter, 'frequency', cutoff)

  const fade = Math.min(secondsToFrames(0.25, sampleRate), Math.floor(frames / 4))
  g.automate(fader, 'gain', new AutomationLane().add(0, 0, 'scurve').add(fade, 1).add(frames - fade, 1, 'scurve').add(frames, 0))

  const r = await renderOffline(g, { sampleRate, frames })
  writeWav(out, r.channels, sampleRate, { bitDepth: 24 })
  for (const t of [0.25, 0.5, 0.75]) {
    console.log(`cutoff at ${(t * seconds).toFixed(2)} s: ${cutoff.valueAt(Math.round(t * frames)).toFixed(0)} Hz`)
  }
  const m = r.meters.out
  console.log(`wrote ${out}: ${frames} frames, ${seconds} s; peak ${m.peakDb.toFixed(1)} dBFS, true peak ${m.truePeakDb.toFixed(1)} dBTP, ${m.integratedLufs.toFixed(1)} LUFS`)
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 1
})
