// Issue 26 items 2 and 5 (TypeScript side): building big graphs and lanes
// does not hang the JavaScript thread (each case here took minutes with the
// old quadratic / cubic checks; ava's timeout is the guard, nothing is timed),
// the answers stay right, and Graph.fromJSON keeps node ids.
import test from 'ava'
import { Graph, AutomationLane, Engine, renderOffline } from '../index'
import type { MeterReading, NodeRef } from '../index'

type Doc = { nodes: Array<{ id: number; type: string; params?: Record<string, number>; options?: Record<string, unknown> }>; connections: number[][] }

/** A chain of `n` gains (the first one `gain`, the others 1) fed by a constant 0.5, into the output. */
function chainOf(n: number, connect: (g: Graph, src: NodeRef, nodes: NodeRef[]) => void) {
  const g = new Graph()
  const src = g.constant({ value: 0.5 })
  const nodes = Array.from({ length: n }, (_, i) => g.gain({ gain: i === 0 ? 0.5 : 1 }))
  connect(g, src, nodes)
  return { g, src, nodes }
}

test('connect: a 20k-node chain connected output-first renders through and still refuses the cycle, naming every node on it', async (t) => {
  const n = 20_000
  const { g, nodes } = chainOf(n, (g, src, nodes) => {
    g.connect(nodes[n - 1], g.output)
    for (let i = n - 2; i >= 0; i--) g.connect(nodes[i], nodes[i + 1])
    g.connect(src, nodes[0])
  })
  t.is((g.toJSON() as Doc).connections.length, n + 1)
  const e = t.throws(() => g.connect(nodes[n - 1], nodes[0]), { instanceOf: RangeError })
  const names = e!.message.replace(/^connect: cycle: /, '').split(' → ')
  t.is(names.length, n + 1)
  t.deepEqual(names.slice(0, 2), [`gain #${nodes[0].id}`, `gain #${nodes[1].id}`])
  t.deepEqual(names.slice(-2), [`gain #${nodes[n - 1].id}`, `gain #${nodes[0].id}`])
  const r = await renderOffline(g, { sampleRate: 48000, frames: 64, channels: 1 })
  t.is(r.channels[0][63], 0.25)
})

test('connect: 20k-node chains in id order, with descending ids and in random order build; a back edge is refused', (t) => {
  const n = 20_000
  const idOrder = chainOf(n, (g, src, nodes) => g.chain(src, ...nodes, g.output))
  // Nodes created on the output side first: ids descend along the signal.
  const g = new Graph()
  const desc = Array.from({ length: n }, () => g.gain())
  g.connect(desc[0], g.output)
  for (let i = 1; i < n; i++) g.connect(desc[i], desc[i - 1])
  t.throws(() => g.connect(desc[0], desc[n - 1]), { instanceOf: RangeError, message: new RegExp(`^connect: cycle: gain #${desc[n - 1].id} → gain #${desc[n - 2].id} → `) })
  // The id-order chain's connections again, shuffled.
  let x = 12345
  const order = Array.from({ length: n - 1 }, (_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648
    const j = x % (i + 1)
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  const h = new Graph()
  const rnd = Array.from({ length: n }, () => h.gain())
  for (const i of order) h.connect(rnd[i], rnd[i + 1])
  t.throws(() => h.connect(rnd[n - 1], rnd[0]), { instanceOf: RangeError, message: /cycle/ })
  t.throws(() => h.connect(rnd[n / 2], rnd[n / 4]), { instanceOf: RangeError, message: new RegExp(`cycle: gain #${rnd[n / 4].id} → .* → gain #${rnd[n / 2].id} → gain #${rnd[n / 4].id}$`) })
  h.connect(rnd[0], rnd[n - 1]) // a shortcut forwards is no cycle
  t.is((h.toJSON() as Doc).connections.length, n)
  t.is((idOrder.g.toJSON() as Doc).connections.length, n + 1)
  // A fan-out of n from the input, then every connection again: the repeats change nothing.
  for (let k = 0; k < 2; k++) for (const r of rnd) h.connect(h.input, r)
  t.is((h.toJSON() as Doc).connections.length, 2 * n)
})

test('connect and sidechain: random edges agree with a reference reachability search, and cycle messages are real paths', (t) => {
  let x = 7
  const rand = (k: number) => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % k
  }
  for (let round = 0; round < 6; round++) {
    const g = new Graph()
    const nodes = Array.from({ length: 40 + round * 20 }, () => g.compressor())
    const succ = new Map<number, Set<number>>()
    const label = new Map(nodes.map((r) => [`compressor #${r.id}`, r.id]))
    const reaches = (a: number, b: number) => {
      const seen = new Set<number>()
      const stack = [a]
      while (stack.length) {
        const n = stack.pop()!
        if (n === b) return true
        if (seen.has(n)) continue
        seen.add(n)
        for (const s of succ.get(n) ?? []) stack.push(s)
      }
      return false
    }
    const keyed = new Set<number>()
    let refused = 0
    for (let op = 0; op < 1500; op++) {
      const f = nodes[rand(nodes.length)]
      const to = nodes[rand(nodes.length)]
      const key = rand(8) === 0 && !keyed.has(to.id) && f !== to
      const cyclic = reaches(to.id, f.id)
      if (cyclic) {
        refused++
        const e = t.throws(() => (key ? g.sidechain(f, to) : g.connect(f, to)), { instanceOf: RangeError })
        const ids = e!.message.replace(/^(connect|sidechain): cycle: /, '').replace(' → (sidechain key) ', ' → ').split(' → ').map((s) => label.get(s)!)
        t.is(ids[0], to.id)
        t.is(ids[ids.length - 1], to.id)
        t.is(ids[ids.length - 2], f.id)
        for (let i = 0; i + 2 < ids.length; i++) t.true(succ.get(ids[i])?.has(ids[i + 1]), `${e!.message}: no edge ${ids[i]} → ${ids[i + 1]}`)
      } else {
        if (key) {
          g.sidechain(f, to)
          keyed.add(to.id)
        } else g.connect(f, to)
        if (!succ.has(f.id)) succ.set(f.id, new Set())
        succ.get(f.id)!.add(to.id)
      }
    }
    t.true(refused > 0)
  }
})

test('AutomationLane: 200k descending points and 200k shuffled points are sorted, ties keep their insertion order', (t) => {
  const n = 200_000
  const lane = new AutomationLane()
  for (let i = n - 1; i >= 0; i--) lane.add(i * 10, i)
  const pts = lane.points
  t.is(pts.length, n)
  for (let i = 0; i < n; i++) if (pts[i].frame !== i * 10) return t.fail(`point ${i} at frame ${pts[i].frame}`)
  t.is(lane.valueAt(15), 1.5)
  t.is(lane.valueAt(10 * n), n - 1)

  const frames = Array.from({ length: n }, (_, i) => i)
  let x = 99
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648
    const j = x % (i + 1)
    ;[frames[i], frames[j]] = [frames[j], frames[i]]
  }
  const shuffled = new AutomationLane(frames.map((f) => ({ frame: f, value: -f })))
  const json = shuffled.toJSON()
  t.true(json.every((p, i) => p.frame === i && p.value === -i))

  // Equal frames keep insertion order, also when added out of order.
  const ties = new AutomationLane().add(20, 1).add(10, 2).add(20, 3, 'step').add(10, 4)
  t.deepEqual(ties.points.map((p) => p.value), [2, 4, 1, 3])
  t.is(ties.valueAt(10), 4)
  t.is(ties.valueAt(25), 3)
  // Reading between adds sees every point.
  const mixed = new AutomationLane().add(100, 1)
  t.is(mixed.valueAt(0), 1)
  mixed.add(0, 0)
  t.is(mixed.valueAt(50), 0.5)
})

test('meter names: 80k named meters survive toJSON / fromJSON; a duplicate is still refused naming the first meter', (t) => {
  const n = 80_000
  const g = new Graph()
  const mix = g.gain()
  const first = g.meter({ name: 'm0' })
  g.connect(first, mix)
  for (let i = 1; i < n; i++) g.connect(g.meter({ name: `m${i}` }), mix)
  const json = g.toJSON() as Doc
  const copy = Graph.fromJSON(JSON.stringify(json))
  t.is((copy.toJSON() as Doc).nodes.length, n + 3)
  t.throws(() => copy.meter({ name: `m${n - 1}` }), { instanceOf: TypeError, message: `meter #${n + 3}: a meter named "m${n - 1}" already exists (meter #${n + 2})` })
  // An unnamed meter is keyed by its id: a name equal to that id is taken.
  const unnamed = g.meter()
  t.throws(() => g.meter({ name: String(unnamed.id) }), { instanceOf: TypeError, message: `meter #${unnamed.id + 1}: a meter named "${unnamed.id}" already exists (meter #${unnamed.id})` })
  const dup = { ...json, nodes: [...json.nodes, { id: n + 10, type: 'meter', options: { name: 'm5' } }] }
  t.throws(() => Graph.fromJSON(dup), { instanceOf: TypeError, message: `Graph.fromJSON: nodes[${n + 3}] (meter, id ${n + 10}): meter #${n + 10}: a meter named "m5" already exists (meter #${first.id + 5})` })
})

/** `db` is the level of linear `amplitude`. */
const near = (db: number, amplitude: number) => Math.abs(db - 20 * Math.log10(amplitude)) < 1e-6

/** A document with two sources of different levels, each through a gain into an unnamed meter, nodes listed in reverse and with gaps in the ids. */
function shuffledDoc() {
  return {
    format: 'ferrite-graph',
    version: 1,
    nodes: [
      { id: 90, type: 'meter' },
      { id: 70, type: 'gain', params: { gain: 1 } },
      { id: 50, type: 'constant', params: { value: 0.25 } },
      { id: 40, type: 'meter' },
      { id: 20, type: 'gain', params: { gain: 1 } },
      { id: 10, type: 'constant', params: { value: 0.5 } },
      { id: 1, type: 'output' },
      { id: 0, type: 'input' },
    ],
    connections: [[10, 20], [20, 40], [40, 1], [50, 70], [70, 90], [90, 1]],
    automation: [],
  }
}

test('Graph.fromJSON keeps node ids when the nodes are listed out of id order: meters are keyed by the document ids', async (t) => {
  const doc = shuffledDoc()
  const g = Graph.fromJSON(doc)
  const back = g.toJSON() as Doc
  t.deepEqual(back.nodes.map((n) => n.id), [0, 1, 90, 70, 50, 40, 20, 10])
  t.deepEqual(back.connections, doc.connections)
  t.is(g.gain().id, 91, 'a node added later gets a fresh id')
  const r = await renderOffline(Graph.fromJSON(doc), { sampleRate: 48000, frames: 4800 })
  t.true(near(r.meters['40'].peakDb, 0.5), `meter 40: ${r.meters['40'].peakDb} dB`)
  t.true(near(r.meters['90'].peakDb, 0.25), `meter 90: ${r.meters['90'].peakDb} dB`)
  // Ids 0 and 1 belong to the input and output; ids are 32-bit.
  t.throws(() => Graph.fromJSON({ ...doc, nodes: [{ id: 0, type: 'gain' }] }), { instanceOf: TypeError, message: /nodes\[0\] \(gain, id 0\): id 0 is the input node's/ })
  t.throws(() => Graph.fromJSON({ ...doc, nodes: [{ id: 3, type: 'output' }] }), { instanceOf: TypeError, message: /the output node's id must be 1/ })
  t.throws(() => Graph.fromJSON({ ...doc, nodes: [{ id: -2, type: 'gain' }] }), { instanceOf: RangeError, message: /'id' = -2 is out of range \[0, 4294967295\]/ })
  t.throws(() => Graph.fromJSON({ ...doc, nodes: [{ id: 2 ** 32, type: 'gain' }] }), { instanceOf: RangeError, message: /'id' = 4294967296 is out of range/ })
})

test('Graph.fromJSON keeps node ids: setParam by a document id changes that node in real time', async (t) => {
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    engine.setGraph(Graph.fromJSON(shuffledDoc()))
    let last: Record<string, MeterReading> | undefined
    const off = engine.onMeters((m) => (last = m), { fps: 20 })
    await new Promise((r) => setTimeout(r, 400))
    t.true(near(last!['40'].peakDb, 0.5))
    t.true(near(last!['90'].peakDb, 0.25))
    engine.setParam(70, 'gain', 0, { rampMs: 0 }) // the gain before meter 90
    await new Promise((r) => setTimeout(r, 400))
    t.true(near(last!['40'].peakDb, 0.5))
    t.is(last!['90'].peakDb, -Infinity)
    off()
  } finally {
    await engine.close()
  }
})
