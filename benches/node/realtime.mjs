// npm run bench:rt — the reference session from DESIGN.md on the clock-paced
// null backend at 48 kHz / 128 frames for 10 s (FERRITE_RT_SECONDS to change),
// printing callback time p50 / p99 / max as a share of the 2.667 ms budget.
// Goal: p99 under 25% of the budget.
//
// The session: 64 stereo tracks, each an oscillator → 8-band EQ → compressor
// → gain → pan, into a master limiter and meter.
import { Engine } from '../../index.mjs'
import { cpus, loadavg } from 'node:os'
import { referenceSession } from './reference-session.mjs'

const seconds = Number(process.env.FERRITE_RT_SECONDS ?? 10)
const tracks = Number(process.env.FERRITE_RT_TRACKS ?? 64)

const session = () => referenceSession(tracks)

const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
engine.setGraph(session())
let meterCalls = 0
const off = engine.onMeters(() => meterCalls++, { fps: 30 })
await new Promise((r) => setTimeout(r, 500))
const warm = engine.stats()
await new Promise((r) => setTimeout(r, seconds * 1000))
const s = engine.stats()
off()
await engine.close()

const pct = (us) => `${((100 * us) / s.budgetUs).toFixed(1)}%`
console.log(`cpu: ${cpus()[0]?.model} (${cpus().length} logical), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`)
console.log(`reference session: ${tracks} tracks x (oscillator, 8-band EQ, compressor, gain, pan) + limiter + meter, 48000 Hz / 128 frames, ${seconds} s`)
console.log(`simd ${s.simd}, realtime priority ${s.realtimePriority}, denormals flushed ${s.denormalsFlushed}`)
console.log(`callbacks ${s.callbacks - warm.callbacks} in the window (${s.callbacks} total), xruns ${s.xruns}, dropped messages ${s.droppedMessages}, meter deliveries ${meterCalls}`)
console.log(`callback time (whole run): p50 ${s.p50Us.toFixed(0)} µs = ${pct(s.p50Us)}, p99 ${s.p99Us.toFixed(0)} µs = ${pct(s.p99Us)}, max ${s.maxUs.toFixed(0)} µs = ${pct(s.maxUs)} of the ${s.budgetUs.toFixed(0)} µs budget`)
console.log(`goal p99 < 25% of budget: ${s.p99Us < 0.25 * s.budgetUs ? 'MET' : 'NOT MET'}`)
