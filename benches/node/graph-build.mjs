// Graph building on the JavaScript thread: connect's cycle check, automation
// lane insertion and fromJSON's name checks, at 10k, 100k and 1M nodes or
// points. Prints the time at each size and the growth per 10×: n·log n is
// about 10–13×, a quadratic algorithm 100×.
//
//   npm run build:ts && npm run bench:graph            (sizes: 1e4 1e5 1e6)
//   node benches/node/graph-build.mjs 1000 10000       (other sizes)
import os from 'node:os'
import { performance } from 'node:perf_hooks'

const { Graph, AutomationLane } = await import('../../index.mjs')

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
if (sizes.length === 0) sizes.push(10_000, 100_000, 1_000_000)

/** Deterministic shuffle (xorshift), so runs compare. */
function shuffled(n) {
  const a = Array.from({ length: n }, (_, i) => i)
  let x = 0x9e3779b9
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const j = (x >>> 0) % (i + 1)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

const cases = {
  // n gains in a chain to the output, connected from the output back to the first.
  'chain, output-first': (n) => {
    const g = new Graph()
    const nodes = Array.from({ length: n }, () => g.gain())
    g.connect(nodes[n - 1], g.output)
    for (let i = n - 2; i >= 0; i--) g.connect(nodes[i], nodes[i + 1])
    return g
  },
  // The same chain connected first to last.
  'chain, id order': (n) => {
    const g = new Graph()
    const nodes = Array.from({ length: n }, () => g.gain())
    for (let i = 0; i + 1 < n; i++) g.connect(nodes[i], nodes[i + 1])
    g.connect(nodes[n - 1], g.output)
    return g
  },
  // Nodes created output side first (ids descending along the signal), connected output-first.
  'chain, ids descending': (n) => {
    const g = new Graph()
    const nodes = Array.from({ length: n }, () => g.gain())
    g.connect(nodes[0], g.output)
    for (let i = 1; i < n; i++) g.connect(nodes[i], nodes[i - 1])
    return g
  },
  // Connections of the id-order chain in random order.
  'chain, random order': (n) => {
    const g = new Graph()
    const nodes = Array.from({ length: n }, () => g.gain())
    g.connect(nodes[n - 1], g.output)
    for (const i of shuffled(n - 1)) g.connect(nodes[i], nodes[i + 1])
    return g
  },
  'lane, descending points': (n) => {
    const lane = new AutomationLane()
    for (let i = n - 1; i >= 0; i--) lane.add(i * 10, i)
    return lane.valueAt(5)
  },
  'lane, random points': (n) => {
    const pts = shuffled(n).map((i) => ({ frame: i * 10, value: i }))
    const lane = new AutomationLane(pts)
    return lane.valueAt(15)
  },
  'meters, toJSON + fromJSON': (n) => {
    const g = new Graph()
    const mix = g.gain()
    for (let i = 0; i < n; i++) g.connect(g.meter({ name: `m${i}` }), mix)
    return Graph.fromJSON(JSON.stringify(g.toJSON()))
  },
}

function time(f, n) {
  globalThis.gc?.()
  const t0 = performance.now()
  f(n)
  return performance.now() - t0
}

console.log(`graph-build: node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
const header = ['case', ...sizes.map((n) => `${n.toLocaleString('en')} ms`), ...sizes.slice(1).map((n, i) => `×${n / sizes[i]}`)]
const rows = [header]
for (const [name, f] of Object.entries(cases)) {
  f(1000) // warm up the JIT
  const ms = sizes.map((n) => time(f, n))
  rows.push([name, ...ms.map((m) => m.toFixed(1)), ...ms.slice(1).map((m, i) => (m / ms[i]).toFixed(1) + '×')])
}
const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c].length)))
for (const r of rows) console.log(r.map((x, c) => (c ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join('  '))
