// The processor worker thread: loads processor modules, constructs their
// instances, and runs `process()` on the blocks the audio thread hands over
// through each instance's shared ring (layout: the engine's
// `jsproc::memory`). It blocks in a native wait on its doorbell when there
// is nothing to do; the audio thread rings it for every block, the host for
// every message. Every view is made once per instance: a block allocates
// nothing here.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import * as native from '../load-binding'

// Header words (the engine's `jsproc::memory`).
const MAGIC = 0
const MAGIC_VALUE = 0x4a535052
const CHANNELS = 1
const BLOCK_W = 2
const SLOTS_W = 3
const LATENCY_BLOCKS = 4
const PARAMS = 5
const STATE = 6
const WAITING = 7
const DONE = 8
const PUBLISHED = 10
const STAMPS_OFF = 11
const POS_OFF = 12
const FLAGS_OFF = 13
const DATA_OFF = 14
const SLOT_WORDS = 15
const MSG_OFF = 16
const MSG_CAP = 18
const HEADER_WORDS = 32
const MSG_WORDS = 256
const STATE_RUNNING = 0
const STATE_BYPASSED = 1
const BLOCK = 128

const { port, reply, door, sampleRate } = workerData as { port: MessagePort; reply: Int32Array; door: Int32Array; sampleRate: number }

// tsc compiles `import()` to `require()` under CommonJS; processors are ES modules.
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<{ default?: unknown }>

interface Served {
  key: string
  label: string
  instance: { process: (i: Float32Array[], o: Float32Array[], p: Record<string, Float32Array | number>, f: number) => void }
  header: Int32Array
  slots: number
  stamps: number
  names: string[]
  flags: Int32Array
  positions: Float64Array
  inputs: Float32Array[][]
  outputs: Float32Array[][]
  paramViews: Float32Array[][]
  paramObjects: Array<Record<string, Float32Array | number>>
  next: number
}

const served: Served[] = []

function layout(channels: number, slots: number, params: number) {
  const even = (x: number) => x + (x % 2)
  const stamps = HEADER_WORDS
  const pos = even(stamps + slots)
  const flags = pos + 2 * slots
  const msg = flags + slots * params
  const data = even(msg + MSG_WORDS)
  const slotWords = (2 * channels + params) * BLOCK
  return { stamps, pos, flags, msg, data, slotWords, total: data + slots * slotWords }
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** The module's parameters as the engine takes them, or a message saying what is wrong. */
function parametersOf(cls: { parameters?: unknown }): Array<{ name: string; default: number; min?: number; max?: number }> {
  const p = cls.parameters
  if (p === undefined || p === null) return []
  if (typeof p !== 'object') throw new TypeError(`'static parameters' must be an object, got ${typeof p}`)
  return Object.entries(p as Record<string, unknown>).map(([name, d]) => {
    if (typeof d !== 'object' || d === null) throw new TypeError(`parameter '${name}' must be { default, min?, max? }`)
    const o = d as Record<string, unknown>
    for (const k of ['default', 'min', 'max']) {
      if (o[k] !== undefined && (typeof o[k] !== 'number' || !Number.isFinite(o[k]))) throw new TypeError(`parameter '${name}': '${k}' must be a finite number`)
    }
    if (typeof o.default !== 'number') throw new TypeError(`parameter '${name}': 'default' is required`)
    return { name, default: o.default, ...(o.min !== undefined ? { min: o.min as number } : {}), ...(o.max !== undefined ? { max: o.max as number } : {}) }
  })
}

async function create(m: { key: string; id: number; module: string; channels: number; latencyBlocks: number; options: unknown }) {
  const name = m.module.split('/').pop()
  let mod: { default?: unknown }
  try {
    mod = await importModule(m.module.startsWith('file:') ? m.module : pathToFileURL(m.module).href)
  } catch (e) {
    return { ok: false, kind: 'TypeError', error: `cannot load module '${m.module}': ${describeError(e)}` }
  }
  const cls = mod.default as ({ new (o: unknown, c: unknown): unknown; parameters?: unknown } | undefined)
  if (typeof cls !== 'function' || typeof (cls.prototype as { process?: unknown } | undefined)?.process !== 'function') {
    return { ok: false, kind: 'TypeError', error: `module '${m.module}': its default export must be a class with a process() method` }
  }
  let parameters
  try {
    parameters = parametersOf(cls)
  } catch (e) {
    return { ok: false, kind: 'TypeError', error: `module '${m.module}': ${describeError(e)}` }
  }
  let instance
  try {
    instance = new cls(m.options, { sampleRate, channels: m.channels, blockSize: BLOCK }) as Served['instance']
  } catch (e) {
    return { ok: false, kind: 'Error', error: `${name}: the constructor threw: ${describeError(e)}` }
  }
  const slots = m.latencyBlocks + 2
  const np = parameters.length
  const l = layout(m.channels, slots, np)
  const sab = new SharedArrayBuffer(l.total * 4)
  const header = new Int32Array(sab)
  const f32 = new Float32Array(sab)
  const words: Array<[number, number]> = [
    [CHANNELS, m.channels], [BLOCK_W, BLOCK], [SLOTS_W, slots], [LATENCY_BLOCKS, m.latencyBlocks], [PARAMS, np],
    [STAMPS_OFF, l.stamps], [POS_OFF, l.pos], [FLAGS_OFF, l.flags], [DATA_OFF, l.data], [SLOT_WORDS, l.slotWords],
    [MSG_OFF, l.msg], [MSG_CAP, MSG_WORDS * 4],
  ]
  for (const [i, v] of words) header[i] = v
  Atomics.store(header, MAGIC, MAGIC_VALUE)
  const view = (word: number, n: number) => f32.subarray(word, word + n)
  const inputs: Float32Array[][] = []
  const outputs: Float32Array[][] = []
  const paramViews: Float32Array[][] = []
  const paramObjects: Array<Record<string, Float32Array | number>> = []
  for (let s = 0; s < slots; s++) {
    const base = l.data + s * l.slotWords
    inputs.push(Array.from({ length: m.channels }, (_, c) => view(base + c * BLOCK, BLOCK)))
    outputs.push(Array.from({ length: m.channels }, (_, c) => view(base + (m.channels + c) * BLOCK, BLOCK)))
    const pv = parameters.map((_, p) => view(base + (2 * m.channels + p) * BLOCK, BLOCK))
    paramViews.push(pv)
    const obj: Record<string, Float32Array | number> = {}
    parameters.forEach((p, i) => (obj[p.name] = pv[i]))
    paramObjects.push(obj)
  }
  served.push({
    key: m.key,
    label: `processor #${m.id} (${name})`,
    instance,
    header,
    slots,
    stamps: l.stamps,
    names: parameters.map((p) => p.name),
    flags: new Int32Array(sab, l.flags * 4, slots * np),
    positions: new Float64Array(sab, l.pos * 4, slots),
    inputs,
    outputs,
    paramViews,
    paramObjects,
    next: 0,
  })
  return { ok: true, sab, parameters }
}

/** Runs every block `s` has waiting; returns whether there was one. */
function serve(s: Served): boolean {
  const h = s.header
  const published = Atomics.load(h, PUBLISHED)
  let did = false
  while (((published - s.next) | 0) > 0) {
    // Fallen a whole ring behind: the blocks in between have been played (as silence) already.
    if (((published - s.next) | 0) > s.slots - 1) s.next = (published - 1) | 0
    const b = s.next
    const slot = (b >>> 0) % s.slots
    const inputs = s.inputs[slot]
    const outputs = s.outputs[slot]
    if (h[STATE] === STATE_RUNNING) {
      const params = s.paramObjects[slot]
      const views = s.paramViews[slot]
      const names = s.names
      const np = names.length
      for (let p = 0; p < np; p++) params[names[p]] = s.flags[slot * np + p] === 1 ? views[p][0] : views[p]
      try {
        s.instance.process(inputs, outputs, params, s.positions[slot])
      } catch (e) {
        Atomics.store(h, STATE, STATE_BYPASSED)
        const message = `${s.label}: process() threw: ${describeError(e)}`
        parentPort?.postMessage({ type: 'error', key: s.key, message })
      }
    }
    if (h[STATE] !== STATE_RUNNING) {
      // Bypassed: the dry input, with the same latency.
      for (let c = 0; c < inputs.length; c++) outputs[c].set(inputs[c])
    }
    Atomics.store(h, s.stamps + slot, (b + 1) | 0)
    Atomics.add(h, DONE, 1)
    if (Atomics.exchange(h, WAITING, 0) === 1) native.processorWake(h, DONE)
    s.next = (b + 1) | 0
    did = true
  }
  return did
}

async function handle(m: { type: string; key?: string }): Promise<unknown> {
  switch (m.type) {
    case 'create':
      return create(m as unknown as Parameters<typeof create>[0])
    case 'dispose': {
      const i = served.findIndex((s) => s.key === m.key)
      if (i >= 0) served.splice(i, 1)
      return { ok: true }
    }
    default:
      return { ok: false, error: `unknown message '${m.type}'` }
  }
}

async function main(): Promise<void> {
  for (;;) {
    let msg
    while ((msg = receiveMessageOnPort(port))) {
      const m = msg.message as { type: string }
      if (m.type === 'close') return
      port.postMessage(await handle(m))
      Atomics.add(reply, 0, 1)
      Atomics.notify(reply, 0)
    }
    const rung = Atomics.load(door, 0)
    let did = false
    for (let i = 0; i < served.length; i++) did = serve(served[i]) || did
    if (!did) {
      Atomics.store(door, 1, 1)
      if (Atomics.load(door, 0) === rung) native.processorWait(door, 0, rung)
    }
  }
}

native.processorWorkerStarted()
main().then(
  () => port.close(),
  (e) => {
    parentPort?.postMessage({ type: 'error', key: '', message: `processor worker: ${describeError(e)}` })
    port.close()
  },
)
