// Offline mastering: normalizes a WAV file to a loudness target under a
// true-peak ceiling, the way a streaming-platform delivery check wants it.
//
//   npx tsx examples/master.ts in.wav [out.wav] [--target -14] [--ceiling -1] [--bit-depth 24]
//
// 1. Measures the input (a player into a meter node): integrated loudness,
//    loudness range, true peak.
// 2. Renders player → gain (target − measured) → limiter (the ceiling) →
//    meter, drops the limiter's lookahead latency from the start, and measures
//    the result. Limiting lowers the loudness and the limiter holds sample
//    peaks, not inter-sample peaks, so it corrects the gain and the limiter's
//    ceiling and renders again (a few passes at most).
// 3. Writes the result and prints before/after.
import { Graph, readWav, renderOffline, writeWav, type MeterReading } from '../index'

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number, got ${process.argv[i + 1]}`)
  return v
}

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')))
const [input, output = input?.replace(/\.wav$/i, '') + '.mastered.wav'] = positional
if (!input) {
  console.error('usage: tsx examples/master.ts in.wav [out.wav] [--target -14] [--ceiling -1] [--bit-depth 24]')
  process.exit(2)
}
const targetLufs = option('target', -14)
const ceilingDbtp = option('ceiling', -1)
const bitDepth = option('bit-depth', 24) as 16 | 24 | 32

const show = (m: MeterReading) =>
  `integrated ${m.integratedLufs.toFixed(2)} LUFS, range ${m.loudnessRangeLu.toFixed(1)} LU, true peak ${m.truePeakDb.toFixed(2)} dBTP, sample peak ${m.peakDb.toFixed(2)} dBFS`

async function measure(channels: Float32Array[], sampleRate: number): Promise<MeterReading> {
  const g = new Graph()
  g.chain(g.player({ channels }), g.meter({ name: 'm' }), g.output)
  const r = await renderOffline(g, { sampleRate, frames: channels[0].length, channels: channels.length })
  return r.meters.m
}

async function master(channels: Float32Array[], sampleRate: number, gainDb: number, limitDb: number) {
  const g = new Graph()
  const frames = channels[0].length
  g.chain(g.player({ channels }), g.gain({ gain: 10 ** (gainDb / 20) }), g.limiter({ ceilingDb: limitDb, lookaheadMs: 5, releaseMs: 150 }), g.output)
  const latency = g.latencyFrames(sampleRate)
  // Render the tail the lookahead holds back, then drop the latency from the start.
  const r = await renderOffline(g, { sampleRate, frames: frames + latency, channels: channels.length })
  const out = r.channels.map((c) => c.slice(latency, latency + frames))
  return { out, after: await measure(out, sampleRate) }
}

async function main(): Promise<void> {
  const { sampleRate, channels } = readWav(input)
  const before = await measure(channels, sampleRate)
  console.log(`input:  ${input} (${channels.length} ch, ${sampleRate} Hz, ${(channels[0].length / sampleRate).toFixed(2)} s)`)
  console.log(`before: ${show(before)}`)
  if (!Number.isFinite(before.integratedLufs)) throw new Error(`${input} is silent (or too short to measure): nothing to normalize`)

  let gainDb = targetLufs - before.integratedLufs
  let limitDb = ceilingDbtp
  let result = await master(channels, sampleRate, gainDb, limitDb)
  for (let pass = 2; pass <= 5; pass++) {
    const { after } = result
    const loudnessOff = targetLufs - after.integratedLufs
    const peakOver = after.truePeakDb - ceilingDbtp
    if (Math.abs(loudnessOff) <= 0.1 && peakOver <= 0) break
    if (peakOver > 0) limitDb -= peakOver + 0.05
    gainDb += loudnessOff
    console.log(`pass ${pass}: gain ${gainDb.toFixed(2)} dB, limiter ceiling ${limitDb.toFixed(2)} dBFS`)
    result = await master(channels, sampleRate, gainDb, limitDb)
  }
  writeWav(output, result.out, sampleRate, { bitDepth })
  // What the file holds (quantized to bitDepth), measured again.
  const written = await measure(readWav(output).channels, sampleRate)
  console.log(`gain:   ${gainDb >= 0 ? '+' : ''}${gainDb.toFixed(2)} dB, limiter ceiling ${limitDb.toFixed(2)} dBFS`)
  console.log(`after:  ${show(written)}`)
  console.log(`output: ${output} (target ${targetLufs} LUFS, ceiling ${ceilingDbtp} dBTP)`)
  if (written.truePeakDb > ceilingDbtp + 0.05) console.log(`warning: true peak ${written.truePeakDb.toFixed(2)} dBTP is above the ceiling`)
  if (Math.abs(written.integratedLufs - targetLufs) > 0.5) {
    console.log(`note: the target is ${(written.integratedLufs - targetLufs).toFixed(1)} LU away: too loud a target for this ceiling and material`)
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 1
})
