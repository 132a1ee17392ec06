// npm run bench:rt-threads — the reference session from DESIGN.md (64
// tracks, as benches/node/realtime.mjs and threads.mjs build it) on the
// clock-paced null backend at 48 kHz / 128 frames, rendered by one thread
// and by two (the audio thread and a worker), side by side in one run:
// rounds alternate 1, 2, 2, 1, ... threads, each a fresh engine playing for
// FERRITE_RT_SECONDS (default 2) after a 0.5 s warm-up, FERRITE_RT_ROUNDS
// (default 12) rounds: many short rounds, so that the host's drifts in
// speed hit both counts alike. Prints each round's median callback time
// (stats().p50Us) and xruns, split into callbacks over budget (the render
// was late) and the null backend's late wake-ups (its clock thread was
// scheduled late: the host), the median over the rounds per thread count,
// the ratio, the median of the rounds' paired ratios, and the CPU time the
// hypervisor stole during the run (/proc/stat).
// Goal (issue 22): the median callback at least 35% shorter on 2 threads.
import { Engine } from '../../index.mjs'
import { cpus, loadavg } from 'node:os'
import { readFileSync } from 'node:fs'
import { referenceSession } from './reference-session.mjs'

const seconds = Number(process.env.FERRITE_RT_SECONDS ?? 2)
const rounds = Number(process.env.FERRITE_RT_ROUNDS ?? 12)
const tracks = Number(process.env.FERRITE_RT_TRACKS ?? 64)
const counts = (process.env.FERRITE_RT_THREADS ?? '1,2').split(',').map(Number)

const session = () => referenceSession(tracks)

function cpuName() {
  const info = readFileSync('/proc/cpuinfo', 'utf8')
  const field = (k) => info.match(new RegExp(`^${k}\\s*: (.*)$`, 'm'))?.[1]
  return `${field('model name') ?? cpus()[0]?.model}, family ${field('cpu family')} model ${field('model')}`
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function round(threads) {
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128, threads })
  engine.setGraph(session())
  const off = engine.onMeters(() => {}, { fps: 30 })
  await new Promise((r) => setTimeout(r, 500))
  const warm = engine.stats()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const s = engine.stats()
  off()
  await engine.close()
  return {
    p50: s.p50Us,
    p99: s.p99Us,
    xruns: s.xruns - warm.xruns,
    over: s.overrunCallbacks - warm.overrunCallbacks,
    late: s.lateWakeups - warm.lateWakeups,
    running: s.threads,
    budget: s.budgetUs,
  }
}

console.log(`cpu: ${cpuName()} (${cpus().length} logical), load at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`)
console.log(`reference session: ${tracks} tracks, null backend 48000 Hz / 128 frames, ${rounds} rounds of ${seconds} s per thread count`)
const steal = () => Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)[8] ?? NaN)
const steal0 = steal()
const t0 = Date.now()
const results = new Map(counts.map((t) => [t, []]))
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...counts].reverse() : counts
  for (const t of order) {
    const x = await round(t)
    results.get(t).push(x)
    console.log(`round ${r + 1}, threads ${t} (running ${x.running}): p50 ${x.p50.toFixed(0)} µs, p99 ${x.p99.toFixed(0)} µs of ${x.budget.toFixed(0)} µs, xruns ${x.xruns} (over budget ${x.over}, late wake-ups ${x.late})`)
  }
}
const med = new Map([...results].map(([t, xs]) => [t, median(xs.map((x) => x.p50))]))
for (const [t, m] of med) {
  const xs = results.get(t)
  console.log(`threads ${t}: median callback ${m.toFixed(0)} µs (median of ${xs.length} rounds' p50), p99 median ${median(xs.map((x) => x.p99)).toFixed(0)} µs, xruns ${xs.map((x) => x.xruns).join(' ')}; over budget ${xs.reduce((a, x) => a + x.over, 0)}, late wake-ups ${xs.reduce((a, x) => a + x.late, 0)}`)
}
const base = med.get(counts[0])
for (const t of counts.slice(1)) {
  const ratio = med.get(t) / base
  const paired = median(results.get(t).map((x, r) => x.p50 / results.get(counts[0])[r].p50))
  console.log(`threads ${t} / threads ${counts[0]}: ${ratio.toFixed(3)} (${((1 - ratio) * 100).toFixed(1)}% shorter; paired within rounds ${((1 - paired) * 100).toFixed(1)}%); goal >= 35% shorter: ${ratio <= 0.65 ? 'MET' : 'NOT MET'}`)
}
const stolen = (steal() - steal0) * 10 // USER_HZ = 100: ticks of 10 ms
console.log(`CPU time stolen by the hypervisor during the run: ${stolen.toFixed(0)} ms of ${((Date.now() - t0) / 1000).toFixed(0)} s × ${cpus().length} CPUs`)
console.log(`load at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
