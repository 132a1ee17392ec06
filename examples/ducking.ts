// Voice over music with the music ducked: a compressor on the music bus is
// keyed by the voice (graph.sidechain), so the music drops while the voice
// speaks and comes back in its pauses. The voice here is synthetic (bursts
// of a vibrato tone, "phrases"), the music a chord; both mixed to the output.
//
//   npx tsx examples/ducking.ts [out.wav] [--seconds 6]
//   FERRITE_EXAMPLE_SECONDS=2 npx tsx examples/ducking.ts ducked.wav
import { Graph, renderOffline, secondsToFrames, writeWav } from '../index'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const sampleRate = 48000
const seconds = Number(arg('seconds') ?? process.env.FERRITE_EXAMPLE_SECONDS ?? 6)
const out = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--'))) ?? 'ducked.wav'
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${arg('seconds')}`)

/** Phrases of 0.6 s every second, from 0.5 s on: a 180 Hz tone with vibrato and a soft envelope. */
function speaking(t: number): boolean {
  return t >= 0.5 && (t - 0.5) % 1 < 0.6
}

function voice(frames: number): Float32Array {
  const v = new Float32Array(frames)
  let phase = 0
  for (let i = 0; i < frames; i++) {
    const t = i / sampleRate
    phase += (2 * Math.PI * 180 * (1 + 0.02 * Math.sin(2 * Math.PI * 5 * t))) / sampleRate
    const into = (t - 0.5) % 1
    const env = speaking(t) ? Math.min(1, into / 0.02, (0.6 - into) / 0.02) : 0
    v[i] = 0.5 * env * (Math.sin(phase) + 0.3 * Math.sin(2 * phase) + 0.1 * Math.sin(3 * phase))
  }
  return v
}

function rmsDb(x: Float32Array, a: number, b: number): number {
  let s = 0
  for (let i = a; i < b; i++) s += x[i] * x[i]
  return 10 * Math.log10(s / Math.max(1, b - a))
}

/** The session: a chord on a music bus, ducked by the voice; `hearVoice`: the voice in the mix too. */
function session(frames: number, hearVoice: boolean): Graph {
  const g = new Graph()
  const bus = g.gain({ gain: 1 })
  for (const f of [130.81, 164.81, 196.0]) g.connect(g.oscillator({ type: 'triangle', frequency: f, amplitude: 0.12 }), bus)
  const duck = g.compressor({ thresholdDb: -35, ratio: 10, attackMs: 5, releaseMs: 250, kneeDb: 6 })
  g.chain(bus, duck, g.output)
  const vox = g.player({ channels: [voice(frames)] })
  g.sidechain(vox, duck)
  if (hearVoice) g.connect(vox, g.output)
  return g
}

async function main(): Promise<void> {
  const frames = secondsToFrames(seconds, sampleRate)
  const mix = await renderOffline(session(frames, true), { sampleRate, frames })
  writeWav(out, mix.channels, sampleRate, { bitDepth: 24 })
  console.log(`wrote ${out}: ${frames} frames, ${seconds} s`)
  // The music bus alone (the voice only keys it): before the first phrase, and inside it.
  const music = (await renderOffline(session(frames, false), { sampleRate, frames })).channels[0]
  const at = (t: number) => Math.min(frames, Math.round(t * sampleRate))
  const before = rmsDb(music, at(0.1), at(0.45))
  console.log(`music before the voice: ${before.toFixed(1)} dBFS`)
  if (seconds >= 1.1) {
    const under = rmsDb(music, at(0.7), at(1.05))
    console.log(`music under the voice:  ${under.toFixed(1)} dBFS (ducked by ${(before - under).toFixed(1)} dB)`)
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 1
})
