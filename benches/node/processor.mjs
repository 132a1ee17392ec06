// npm run bench:processor — what a `processor` node (DSP on a worker thread)
// costs per 128-frame block, against a native gain in its place:
// - offline: 60 s of stereo input (22 500 blocks) through one node, best of
//   FERRITE_PROC_RUNS (default 5) renders each, alternating; the difference
//   per block is the hand-over (ring copy in and out, doorbell, the worker's
//   loop and views, the render thread waiting for the worker);
// - real time: the null backend at 48 kHz / 128 frames for FERRITE_PROC_SECONDS
//   (default 5) with 1 and 8 such nodes: the audio thread's callback time
//   (p50 / p99) and the underruns.
import { Engine, Graph, renderOffline } from '../../index.mjs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const copy = join(here, 'processor-copy.mjs')
const runs = Number(process.env.FERRITE_PROC_RUNS ?? 5)
const seconds = Number(process.env.FERRITE_PROC_SECONDS ?? 5)
const SR = 48000

function graph(kind, n = 1, source) {
  const g = new Graph()
  for (let i = 0; i < n; i++) {
    const node = kind === 'processor' ? g.processor({ module: copy }) : g.gain({ gain: 0.999 })
    g.chain(source ? source(g) : g.input, node, g.output)
  }
  return g
}

console.log(`CPU: ${cpus()[0]?.model} × ${cpus().length}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; node ${process.version}`)

const frames = 60 * SR
const input = [0, 1].map((c) => Float32Array.from({ length: frames }, (_, i) => Math.sin(0.01 * i + c) * 0.5))
const blocks = frames / 128
const best = { gain: Infinity, processor: Infinity }
for (let r = 0; r < runs; r++) {
  for (const kind of ['gain', 'processor']) {
    const g = graph(kind)
    const t0 = performance.now()
    await renderOffline(g, { sampleRate: SR, frames, input })
    best[kind] = Math.min(best[kind], performance.now() - t0)
  }
}
const perBlock = ((best.processor - best.gain) * 1000) / blocks
console.log(`offline, 60 s stereo: gain ${best.gain.toFixed(1)} ms, processor ${best.processor.toFixed(1)} ms (incl. worker start and module load)`)
console.log(`  → ${perBlock.toFixed(2)} µs per 128-frame block more than a native gain (${((perBlock / 2666.7) * 100).toFixed(2)}% of a 48 kHz / 128 budget)`)

for (const n of [1, 8]) {
  const row = {}
  for (const kind of ['gain', 'processor']) {
    const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
    engine.setGraph(graph(kind, n, (g) => g.oscillator({ frequency: 440, amplitude: 0.1 })))
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const s = engine.stats()
    row[kind] = s
    await engine.close()
  }
  const f = (s) => `p50 ${s.p50Us.toFixed(1)} µs, p99 ${s.p99Us.toFixed(1)} µs, max ${s.maxUs.toFixed(0)} µs, xruns ${s.xruns}, underruns ${s.processorUnderruns}`
  console.log(`real time, ${n} node${n > 1 ? 's' : ''}: gain ${f(row.gain)}; processor ${f(row.processor)}`)
  console.log(`  → audio thread: +${(row.processor.p50Us - row.gain.p50Us).toFixed(1)} µs at p50 (${(((row.processor.p50Us - row.gain.p50Us) / 2666.7) * 100).toFixed(2)}% of the budget)`)
}
