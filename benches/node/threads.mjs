// npm run bench:threads — the reference session from DESIGN.md (64 tracks:
// oscillator → 8-band EQ → compressor → gain → pan, into a master limiter
// and meter) rendered offline, 10 s at 48 kHz / 128 frames, on 1 thread and
// on 2 (or FERRITE_BENCH_THREADS), alternating within each round; prints
// the best times and the ratio best against best, and the median of the
// per-round ratios. Goal (DESIGN.md): at least 1.8× on 2 cores.
import { renderOffline } from '../../index.mjs'
import { cpus, loadavg } from 'node:os'
import { readFileSync } from 'node:fs'
import { referenceSession } from './reference-session.mjs'

const rounds = Number(process.env.FERRITE_BENCH_RUNS ?? 7)
const seconds = Number(process.env.FERRITE_BENCH_SECONDS ?? 10)
const many = Number(process.env.FERRITE_BENCH_THREADS ?? 2)
const tracks = Number(process.env.FERRITE_BENCH_TRACKS ?? 64)

const session = () => referenceSession(tracks)

function cpuName() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    const field = (k) => info.match(new RegExp(`^${k}\\s*: (.*)$`, 'm'))?.[1]
    return `${field('model name')} (family ${field('cpu family')}, model ${field('model')})`
  } catch {
    return cpus()[0]?.model ?? 'unknown CPU'
  }
}

const g = session()
const opts = { sampleRate: 48000, frames: 48000 * seconds, blockSize: 128 }
const time = async (threads) => {
  const t0 = process.hrtime.bigint()
  const r = await renderOffline(g, { ...opts, threads })
  return [Number(process.hrtime.bigint() - t0) / 1e6, r]
}
const load0 = loadavg()[0]
await time(1)
await time(many)
const one = []
const par = []
const ratios = []
let same = true
for (let i = 0; i < rounds; i++) {
  const [a, ra] = await time(1)
  const [b, rb] = await time(many)
  one.push(a)
  par.push(b)
  ratios.push(a / b)
  same &&= ra.channels.every((c, k) => Buffer.from(c.buffer).equals(Buffer.from(rb.channels[k].buffer)))
}
const median = (x) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]
const best = (x) => Math.min(...x)
console.log(`${cpuName()}, ${cpus().length} cores; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`)
console.log(`reference session (${tracks} tracks), ${seconds} s offline, best of ${rounds}:`)
console.log(`  1 thread:  ${best(one).toFixed(1)} ms`)
console.log(`  ${many} threads: ${best(par).toFixed(1)} ms`)
console.log(`  ${many} threads vs 1: ${(best(one) / best(par)).toFixed(2)}× best against best, ${median(ratios).toFixed(2)}× median of rounds (goal ≥ 1.8× on 2 cores)`)
console.log(`  same samples: ${same}`)
