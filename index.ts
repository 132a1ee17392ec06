/**
 * ferrite-audio — a real-time audio engine for Node.js with a Rust core.
 *
 * Build a processor {@link Graph} in TypeScript, render it offline with
 * {@link renderOffline}, or play it on a device with {@link Engine}.
 *
 * @packageDocumentation
 */
import * as native from './load-binding' // binding.js, with a load error that says what to install
import { callNative, callNativeAsync, TAG } from './ts/errors'
import { checkChannels, checkFrames, checkKeys, checkNumber, checkObject, checkSampleRate, describe } from './ts/validate'

// ---------------------------------------------------------------------------
// Units

/** Frames in `seconds` at `sampleRate`, rounded to the nearest frame. */
export function secondsToFrames(seconds: number, sampleRate: number): number {
  checkNumber('secondsToFrames', 'seconds', seconds)
  if (seconds < 0) throw new RangeError(`secondsToFrames: 'seconds' = ${seconds} must not be negative`)
  checkSampleRate('secondsToFrames', sampleRate)
  return Math.round(seconds * sampleRate)
}

/** Seconds spanned by `frames` at `sampleRate`. */
export function framesToSeconds(frames: number, sampleRate: number): number {
  checkFrames('framesToSeconds', 'frames', frames)
  checkSampleRate('framesToSeconds', sampleRate)
  return frames / sampleRate
}

// ---------------------------------------------------------------------------
// Automation

/** How an automation point moves to the next one. */
export type Curve = 'linear' | 'step' | 'exponential' | 'scurve'

/** One automation breakpoint. */
export interface AutomationPoint {
  /** Transport frame of the point (a non-negative integer). */
  frame: number
  /** Parameter value from this frame. */
  value: number
  /** How the value moves to the next point (default `'linear'`). */
  curve?: Curve
}

const CURVES: readonly Curve[] = ['linear', 'step', 'exponential', 'scurve']

/**
 * A breakpoint automation lane, evaluated sample-accurately by the engine.
 *
 * ```ts
 * const fade = new AutomationLane().add(0, 0).add(48000, 1, 'scurve')
 * fade.valueAt(24000) // 0.5
 * ```
 */
export class AutomationLane {
  #points: Required<AutomationPoint>[] = []

  constructor(points?: AutomationPoint[]) {
    if (points === undefined) return
    if (!Array.isArray(points)) throw new TypeError(`AutomationLane: points must be an array, got ${describe(points)}`)
    for (const p of points) {
      if (typeof p !== 'object' || p === null) throw new TypeError(`AutomationLane: each point must be an object, got ${describe(p)}`)
      this.add(p.frame, p.value, p.curve)
    }
  }

  /** Adds a point; points at the same frame keep their insertion order (the later one wins from that frame). */
  add(frame: number, value: number, curve: Curve = 'linear'): this {
    checkFrames('AutomationLane.add', 'frame', frame)
    checkNumber('AutomationLane.add', 'value', value)
    if (!CURVES.includes(curve)) {
      throw new TypeError(`AutomationLane.add: curve ${describe(curve)} is not one of ${CURVES.join(', ')}`)
    }
    // Insert after every point at or before `frame` (stable).
    let lo = 0
    let hi = this.#points.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#points[mid].frame <= frame) lo = mid + 1
      else hi = mid
    }
    this.#points.splice(lo, 0, { frame, value, curve })
    return this
  }

  /** The points, sorted by frame. */
  get points(): ReadonlyArray<Readonly<Required<AutomationPoint>>> {
    return this.#points.map((p) => ({ ...p }))
  }

  /**
   * The value at transport frame `frame`: the same function the engine evaluates.
   * Before the first point: the first value; from the last point on: the last value.
   */
  valueAt(frame: number): number {
    checkNumber('AutomationLane.valueAt', 'frame', frame)
    const pts = this.#points
    if (pts.length === 0) return 0
    // Last point whose frame is <= `frame`.
    let lo = 0
    let hi = pts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (pts[mid].frame <= frame) lo = mid + 1
      else hi = mid
    }
    if (lo === 0) return pts[0].value
    const p1 = pts[lo - 1]
    const p2 = pts[lo]
    if (p2 === undefined) return p1.value
    const v1 = p1.value
    const v2 = p2.value
    const t = (frame - p1.frame) / (p2.frame - p1.frame)
    switch (p1.curve) {
      case 'step':
        return v1
      case 'exponential':
        return v1 + (v2 - v1) * (t * t)
      case 'scurve':
        return v1 + (v2 - v1) * (t * t * (3 - 2 * t))
      default:
        return v1 + (v2 - v1) * t
    }
  }

  /** The serialized points. */
  toJSON(): Required<AutomationPoint>[] {
    return this.#points.map((p) => ({ ...p }))
  }
}

// ---------------------------------------------------------------------------
// Graph

/** The RBJ cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'allpass' | 'peaking' | 'lowshelf' | 'highshelf'

const BIQUAD_TYPES: readonly BiquadType[] = ['lowpass', 'highpass', 'bandpass', 'notch', 'allpass', 'peaking', 'lowshelf', 'highshelf']

/** Oscillator waveforms; saw, square and triangle are band-limited. */
export type Waveform = 'sine' | 'saw' | 'square' | 'triangle'

const WAVEFORMS: readonly Waveform[] = ['sine', 'saw', 'square', 'triangle']

/** A node of a {@link Graph}. */
export interface NodeRef {
  /** Node id, unique within its graph (`input` is 0, `output` is 1). */
  readonly id: number
  /** Node type (`'oscillator'`, `'biquad'`, ...). */
  readonly type: string
}

/** One band of an {@link Graph.eq}. */
export interface EqBand {
  /** Filter type of the band. */
  type: BiquadType
  /** Centre or corner frequency, Hz (below Nyquist). */
  frequency: number
  /** Quality factor (default 1/√2). */
  q?: number
  /** Gain for peaking and shelf bands, dB (default 0). */
  gainDb?: number
}

interface NodeRecord {
  ref: NodeRef
  params: Record<string, number>
  options: Record<string, unknown>
  /** Audio option name → channels, sent beside the JSON. */
  audio: Record<string, Float32Array[]>
}

/** The serialized graph's format version. */
export const GRAPH_FORMAT_VERSION = 1

/** Automatable parameters of each node type (eq's are per band). */
function paramNames(rec: NodeRecord): string[] {
  return Object.keys(rec.params)
}

/**
 * A processor graph: sources, effects and meters connected towards `output`.
 *
 * ```ts
 * const g = new Graph()
 * const osc = g.oscillator({ type: 'saw', frequency: 110 })
 * g.chain(osc, g.biquad({ type: 'lowpass', frequency: 800 }), g.gain({ gain: 0.5 }), g.output)
 * ```
 */
export class Graph {
  /** The render's input (offline `input` channels, or the device input). */
  readonly input: NodeRef
  /** The master output. */
  readonly output: NodeRef
  #nodes = new Map<number, NodeRecord>()
  #refs = new WeakSet<NodeRef>()
  #edges: Array<[number, number]> = []
  #lanes = new Map<string, { node: number; param: string; lane: AutomationLane }>()
  #nextId = 0

  constructor() {
    this.input = this.#add('input', {}, {})
    this.output = this.#add('output', {}, {})
  }

  #add(type: string, params: Record<string, number>, options: Record<string, unknown>, audio: Record<string, Float32Array[]> = {}): NodeRef {
    const ref: NodeRef = Object.freeze({ id: this.#nextId++, type })
    this.#nodes.set(ref.id, { ref, params, options, audio })
    this.#refs.add(ref)
    return ref
  }

  #where(type: string): string {
    return `${type} #${this.#nextId}`
  }

  /** A periodic source. `phase` is a phase offset in radians. */
  oscillator(o: { type?: Waveform; frequency: number; amplitude?: number; phase?: number }): NodeRef {
    const w = this.#where('oscillator')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['type', 'frequency', 'amplitude', 'phase'])
    const type = opts.type ?? 'sine'
    if (!WAVEFORMS.includes(type as Waveform)) throw new TypeError(`${w}: unknown oscillator type ${describe(type)} (known: ${WAVEFORMS.join(', ')})`)
    const frequency = checkNumber(w, 'frequency', opts.frequency)
    if (frequency < 0) throw new RangeError(`${w}: parameter 'frequency' = ${frequency} must not be negative`)
    const params: Record<string, number> = { frequency, amplitude: 1, phase: 0 }
    if (opts.amplitude !== undefined) params.amplitude = checkNumber(w, 'amplitude', opts.amplitude)
    if (opts.phase !== undefined) params.phase = checkNumber(w, 'phase', opts.phase)
    return this.#add('oscillator', params, { type })
  }

  /** A constant signal (a DC offset, or a control value to sum). */
  constant(o: { value: number }): NodeRef {
    const w = this.#where('constant')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['value'])
    return this.#add('constant', { value: checkNumber(w, 'value', opts.value) }, {})
  }

  /**
   * Plays a buffer on the timeline: transport frame `startFrame` plays the
   * buffer's first frame. A mono buffer feeds every channel.
   */
  player(o: { channels: Float32Array[]; loop?: boolean; startFrame?: number }): NodeRef {
    const w = this.#where('player')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['channels', 'loop', 'startFrame'])
    const channels = checkChannels(w, 'channels', opts.channels)
    const options: Record<string, unknown> = {}
    if (opts.loop !== undefined) {
      if (typeof opts.loop !== 'boolean') throw new TypeError(`${w}: 'loop' must be a boolean, got ${describe(opts.loop)}`)
      options.loop = opts.loop
    }
    if (opts.startFrame !== undefined) options.startFrame = checkFrames(w, 'startFrame', opts.startFrame)
    return this.#add('player', {}, options, { channels })
  }

  /** A linear gain (default 1). */
  gain(o?: { gain?: number }): NodeRef {
    const w = this.#where('gain')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['gain'])
    return this.#add('gain', { gain: opts.gain === undefined ? 1 : checkNumber(w, 'gain', opts.gain) }, {})
  }

  /** A constant-power stereo panner, -1 (left) .. 1 (right). */
  pan(o?: { pan?: number }): NodeRef {
    const w = this.#where('pan')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['pan'])
    const pan = opts.pan === undefined ? 0 : checkNumber(w, 'pan', opts.pan)
    if (pan < -1 || pan > 1) throw new RangeError(`${w}: parameter 'pan' = ${pan} is out of range [-1, 1]`)
    return this.#add('pan', { pan }, {})
  }

  #biquadParams(w: string, o: Record<string, unknown>, prefix: string): Record<string, number> {
    if (!BIQUAD_TYPES.includes(o.type as BiquadType)) {
      throw new TypeError(`${w}: unknown biquad type ${describe(o.type)} (known: ${BIQUAD_TYPES.join(', ')})`)
    }
    const frequency = checkNumber(w, `${prefix}frequency`, o.frequency)
    if (frequency <= 0) throw new RangeError(`${w}: parameter '${prefix}frequency' = ${frequency} Hz must be above 0`)
    const q = o.q === undefined ? Math.SQRT1_2 : checkNumber(w, `${prefix}q`, o.q)
    if (q <= 0) throw new RangeError(`${w}: parameter '${prefix}q' = ${q} must be above 0`)
    const gainDb = o.gainDb === undefined ? 0 : checkNumber(w, `${prefix}gainDb`, o.gainDb)
    return { [`${prefix}frequency`]: frequency, [`${prefix}q`]: q, [`${prefix}gainDb`]: gainDb }
  }

  /** An RBJ cookbook biquad filter (default `q` 1/√2, `gainDb` 0). */
  biquad(o: { type: BiquadType; frequency: number; q?: number; gainDb?: number }): NodeRef {
    const w = this.#where('biquad')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['type', 'frequency', 'q', 'gainDb'])
    return this.#add('biquad', this.#biquadParams(w, opts, ''), { type: opts.type })
  }

  /** A series bank of biquads. Band parameters are named `bands[i].frequency`, `bands[i].q`, `bands[i].gainDb`. */
  eq(o: { bands: EqBand[] }): NodeRef {
    const w = this.#where('eq')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['bands'])
    if (!Array.isArray(opts.bands)) throw new TypeError(`${w}: 'bands' must be an array, got ${describe(opts.bands)}`)
    let params: Record<string, number> = {}
    const bands = (opts.bands as unknown[]).map((b, i) => {
      const bw = `${w} bands[${i}]`
      const band = checkObject(bw, b, false)
      checkKeys(bw, band, ['type', 'frequency', 'q', 'gainDb'])
      params = { ...params, ...this.#biquadParams(w, band, `bands[${i}].`) }
      return { type: band.type }
    })
    return this.#add('eq', params, { bands })
  }

  /** A musical delay (not latency: it is not compensated). `feedback` default 0, `mix` default 1 (wet only). */
  delay(o: { frames: number; feedback?: number; mix?: number; maxFrames?: number }): NodeRef {
    const w = this.#where('delay')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['frames', 'feedback', 'mix', 'maxFrames'])
    const params: Record<string, number> = { frames: checkFrames(w, 'frames', opts.frames), feedback: 0, mix: 1 }
    if (opts.feedback !== undefined) params.feedback = checkNumber(w, 'feedback', opts.feedback)
    if (opts.mix !== undefined) params.mix = checkNumber(w, 'mix', opts.mix)
    const options: Record<string, unknown> = {}
    if (opts.maxFrames !== undefined) options.maxFrames = checkFrames(w, 'maxFrames', opts.maxFrames)
    return this.#add('delay', params, options)
  }

  /** A feed-forward compressor with a soft knee. */
  compressor(o?: { thresholdDb?: number; ratio?: number; attackMs?: number; releaseMs?: number; kneeDb?: number; makeupDb?: number }): NodeRef {
    const w = this.#where('compressor')
    const opts = checkObject(w, o, true)
    const names = ['thresholdDb', 'ratio', 'attackMs', 'releaseMs', 'kneeDb', 'makeupDb']
    checkKeys(w, opts, names)
    const defaults: Record<string, number> = { thresholdDb: -24, ratio: 4, attackMs: 10, releaseMs: 100, kneeDb: 6, makeupDb: 0 }
    const params: Record<string, number> = {}
    for (const n of names) params[n] = opts[n] === undefined ? defaults[n] : checkNumber(w, n, opts[n])
    return this.#add('compressor', params, {})
  }

  /** A lookahead peak limiter; reports latency = lookahead. */
  limiter(o?: { ceilingDb?: number; lookaheadMs?: number; releaseMs?: number }): NodeRef {
    const w = this.#where('limiter')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['ceilingDb', 'lookaheadMs', 'releaseMs'])
    const params: Record<string, number> = {
      ceilingDb: opts.ceilingDb === undefined ? -1 : checkNumber(w, 'ceilingDb', opts.ceilingDb),
      releaseMs: opts.releaseMs === undefined ? 100 : checkNumber(w, 'releaseMs', opts.releaseMs),
    }
    const lookaheadMs = opts.lookaheadMs === undefined ? 5 : checkNumber(w, 'lookaheadMs', opts.lookaheadMs)
    if (lookaheadMs < 0) throw new RangeError(`${w}: 'lookaheadMs' = ${lookaheadMs} must not be negative`)
    return this.#add('limiter', params, { lookaheadMs })
  }

  /** A convolution reverb or FIR (mono IR: every channel; else one IR channel per channel). */
  convolver(o: { ir: Float32Array[]; normalize?: boolean }): NodeRef {
    const w = this.#where('convolver')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['ir', 'normalize'])
    const ir = checkChannels(w, 'ir', opts.ir)
    const options: Record<string, unknown> = {}
    if (opts.normalize !== undefined) {
      if (typeof opts.normalize !== 'boolean') throw new TypeError(`${w}: 'normalize' must be a boolean, got ${describe(opts.normalize)}`)
      options.normalize = opts.normalize
    }
    return this.#add('convolver', {}, options, { ir })
  }

  /** A pass-through meter: peak, RMS, true peak, LUFS, loudness range. Readings are keyed by `name` (or the id). */
  meter(o?: { name?: string }): NodeRef {
    const w = this.#where('meter')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['name'])
    const options: Record<string, unknown> = {}
    if (opts.name !== undefined) {
      if (typeof opts.name !== 'string') throw new TypeError(`${w}: 'name' must be a string, got ${describe(opts.name)}`)
      for (const r of this.#nodes.values()) {
        if (r.ref.type === 'meter' && (r.options.name ?? String(r.ref.id)) === opts.name) {
          throw new TypeError(`${w}: a meter named ${describe(opts.name)} already exists (meter #${r.ref.id})`)
        }
      }
      options.name = opts.name
    }
    return this.#add('meter', {}, options)
  }

  #record(where: string, ref: unknown, role: string): NodeRecord {
    if (typeof ref !== 'object' || ref === null || typeof (ref as NodeRef).id !== 'number') {
      throw new TypeError(`${where}: ${role} must be a node of this graph, got ${describe(ref)}`)
    }
    const rec = this.#nodes.get((ref as NodeRef).id)
    if (!rec || !this.#refs.has(ref as NodeRef)) {
      throw new TypeError(`${where}: ${role} ${(ref as NodeRef).type ?? 'node'} #${(ref as NodeRef).id} belongs to another graph`)
    }
    return rec
  }

  /** Connects `from`'s output into `to`'s input (several inputs are summed). */
  connect(from: NodeRef, to: NodeRef): this {
    const f = this.#record('connect', from, 'from')
    const t = this.#record('connect', to, 'to')
    const label = (r: NodeRecord) => `${r.ref.type} #${r.ref.id}`
    if (f.ref.type === 'output') throw new TypeError(`connect: ${label(f)} is the master output and has no outgoing connections`)
    if (['input', 'oscillator', 'constant', 'player'].includes(t.ref.type)) {
      throw new TypeError(`connect: ${label(t)} takes no input (${label(f)} → ${label(t)})`)
    }
    if (this.#edges.some(([a, b]) => a === f.ref.id && b === t.ref.id)) return this
    // Refuse a cycle: is `from` reachable from `to`?
    const path = this.#pathFrom(t.ref.id, f.ref.id)
    if (path) {
      const names = [...path, t.ref.id].map((id) => label(this.#nodes.get(id)!))
      throw new RangeError(`connect: cycle: ${names.join(' → ')}`)
    }
    this.#edges.push([f.ref.id, t.ref.id])
    return this
  }

  #pathFrom(start: number, goal: number): number[] | null {
    const stack: Array<[number, number[]]> = [[start, [start]]]
    const seen = new Set<number>()
    while (stack.length) {
      const [n, path] = stack.pop()!
      if (n === goal) return path
      if (seen.has(n)) continue
      seen.add(n)
      for (const [a, b] of this.#edges) if (a === n) stack.push([b, [...path, b]])
    }
    return null
  }

  /** Connects each node to the next. */
  chain(...nodes: NodeRef[]): this {
    for (let i = 0; i + 1 < nodes.length; i++) this.connect(nodes[i], nodes[i + 1])
    return this
  }

  /** Drives `node`'s numeric parameter `param` from `lane`, sample-accurately. */
  automate(node: NodeRef, param: string, lane: AutomationLane): this {
    const rec = this.#record('automate', node, 'node')
    if (typeof param !== 'string') throw new TypeError(`automate: param must be a string, got ${describe(param)}`)
    const known = paramNames(rec)
    if (!known.includes(param)) {
      throw new TypeError(`automate: ${rec.ref.type} #${rec.ref.id}: unknown parameter '${param}' (known: ${known.length ? known.join(', ') : 'none'})`)
    }
    if (!(lane instanceof AutomationLane)) throw new TypeError(`automate: lane must be an AutomationLane, got ${describe(lane)}`)
    this.#lanes.set(`${rec.ref.id}\u0000${param}`, { node: rec.ref.id, param, lane })
    return this
  }

  /** The latency reported to the output at `sampleRate`, in frames. */
  latencyFrames(sampleRate: number): number {
    checkSampleRate('latencyFrames', sampleRate)
    const { json, buffers } = this.serialize()
    return callNative(() => native.graphLatencyNative(json, buffers, sampleRate, 2))
  }

  #serializeNodes(audioRef: (chans: Float32Array[]) => unknown) {
    return [...this.#nodes.values()].map((r) => {
      const options: Record<string, unknown> = { ...r.options }
      for (const [k, chans] of Object.entries(r.audio)) options[k] = audioRef(chans)
      const node: Record<string, unknown> = { id: r.ref.id, type: r.ref.type }
      if (Object.keys(r.params).length) node.params = { ...r.params }
      if (Object.keys(options).length) node.options = options
      return node
    })
  }

  #automation() {
    return [...this.#lanes.values()].map(({ node, param, lane }) => ({ node, param, points: lane.toJSON() }))
  }

  /** The serialized form sent to the engine (audio buffers inline as arrays of numbers). */
  toJSON(): object {
    return {
      format: 'ferrite-graph',
      version: GRAPH_FORMAT_VERSION,
      nodes: this.#serializeNodes((chans) => chans.map((c) => Array.from(c))),
      connections: this.#edges.map(([a, b]) => [a, b]),
      automation: this.#automation(),
    }
  }

  /** @internal The JSON and the side buffers (no copies of audio into JSON). */
  serialize(): { json: string; buffers: Float32Array[][] } {
    const buffers: Float32Array[][] = []
    const doc = {
      format: 'ferrite-graph',
      version: GRAPH_FORMAT_VERSION,
      nodes: this.#serializeNodes((chans) => {
        buffers.push(chans)
        return { buffer: buffers.length - 1 }
      }),
      connections: this.#edges,
      automation: this.#automation(),
    }
    return { json: stringify(doc), buffers }
  }

  /** @internal Lanes only, serialized. */
  serializeAutomation(): string {
    return stringify(this.#automation())
  }

  // --- Graph.fromJSON (packaging/CLI) ---------------------------------------

  /**
   * Rebuilds a graph from its {@link Graph.toJSON} form (an object or a JSON
   * string), through the same validated builder methods, so a bad document
   * throws the usual `TypeError` / `RangeError`, prefixed with where it is
   * (`Graph.fromJSON: nodes[3] (biquad, id 3): ...`). Node ids are kept when
   * the nodes are listed in id order, as `toJSON` lists them.
   *
   * ```ts
   * const copy = Graph.fromJSON(JSON.stringify(graph))
   * ```
   */
  static fromJSON(json: object | string): Graph {
    const where = 'Graph.fromJSON'
    let doc: unknown = json
    if (typeof json === 'string') {
      try {
        doc = JSON.parse(json)
      } catch (e) {
        throw new TypeError(`${where}: not valid JSON: ${(e as Error).message}`)
      }
    }
    const d = checkObject(where, doc, false)
    if (d.format !== 'ferrite-graph') throw new TypeError(`${where}: 'format' must be "ferrite-graph", got ${describe(d.format)}`)
    if (d.version !== GRAPH_FORMAT_VERSION) {
      throw new RangeError(`${where}: graph format version ${describe(d.version)} is not supported (this build reads version ${GRAPH_FORMAT_VERSION})`)
    }
    checkKeys(where, d, ['format', 'version', 'nodes', 'connections', 'automation'])
    if (!Array.isArray(d.nodes)) throw new TypeError(`${where}: 'nodes' must be an array, got ${describe(d.nodes)}`)
    const g = new Graph()
    const refs = new Map<number, NodeRef>()
    const within = <T>(w: string, f: () => T): T => {
      try {
        return f()
      } catch (e) {
        if (e instanceof TypeError) throw new TypeError(`${w}: ${e.message}`)
        if (e instanceof RangeError) throw new RangeError(`${w}: ${e.message}`)
        throw e
      }
    }
    const audio = (w: string, v: unknown): Float32Array[] => {
      if (!Array.isArray(v)) throw new TypeError(`${w} must be an array of channels (arrays of numbers), got ${describe(v)}`)
      return v.map((c: unknown, j) => {
        if (!Array.isArray(c) || c.some((x) => typeof x !== 'number')) throw new TypeError(`${w}[${j}] must be an array of numbers`)
        return Float32Array.from(c as number[])
      })
    }
    d.nodes.forEach((n: unknown, i) => {
      const node = checkObject(`${where}: nodes[${i}]`, n, false)
      const w = `${where}: nodes[${i}] (${typeof node.type === 'string' ? node.type : 'node'}, id ${describe(node.id)})`
      checkKeys(w, node, ['id', 'type', 'params', 'options'])
      if (typeof node.id !== 'number' || !Number.isInteger(node.id)) throw new TypeError(`${w}: 'id' must be an integer`)
      if (refs.has(node.id)) throw new TypeError(`${w}: duplicate node id ${node.id}`)
      const params = checkObject(`${w}: params`, node.params, true)
      const options = { ...checkObject(`${w}: options`, node.options, true) }
      const both = (): never => ({ ...options, ...params }) as never
      const ref = within(w, (): NodeRef => {
        switch (node.type) {
          case 'input':
          case 'output':
            checkKeys('options', { ...options, ...params }, [])
            if ([...refs.values()].includes(g[node.type])) throw new TypeError(`a graph has one ${node.type} node`)
            return g[node.type]
          case 'oscillator':
            return g.oscillator(both())
          case 'constant':
            return g.constant(both())
          case 'gain':
            return g.gain(both())
          case 'pan':
            return g.pan(both())
          case 'biquad':
            return g.biquad(both())
          case 'delay':
            return g.delay(both())
          case 'compressor':
            return g.compressor(both())
          case 'limiter':
            return g.limiter(both())
          case 'meter':
            return g.meter(both())
          case 'player':
            if ('channels' in options) options.channels = audio('options.channels', options.channels)
            return g.player(both())
          case 'convolver':
            if ('ir' in options) options.ir = audio('options.ir', options.ir)
            return g.convolver(both())
          case 'eq': {
            checkKeys('options', options, ['bands'])
            if (!Array.isArray(options.bands)) throw new TypeError(`options.bands must be an array, got ${describe(options.bands)}`)
            const known = new Set<string>()
            const bands = options.bands.map((b: unknown, j) => {
              const band = checkObject(`options.bands[${j}]`, b, false)
              const out: Record<string, unknown> = { ...band }
              for (const k of ['frequency', 'q', 'gainDb']) {
                const key = `bands[${j}].${k}`
                known.add(key)
                if (key in params) out[k] = params[key]
              }
              return out
            })
            checkKeys('params', params, [...known])
            return g.eq({ bands } as never)
          }
          default:
            throw new TypeError(`unknown node type ${describe(node.type)}`)
        }
      })
      refs.set(node.id, ref)
    })
    const refOf = (w: string, id: unknown): NodeRef => {
      const r = typeof id === 'number' ? refs.get(id) : undefined
      if (!r) throw new TypeError(`${w}: unknown node id ${describe(id)}`)
      return r
    }
    const connections = d.connections === undefined ? [] : d.connections
    if (!Array.isArray(connections)) throw new TypeError(`${where}: 'connections' must be an array, got ${describe(connections)}`)
    connections.forEach((c: unknown, i) => {
      const w = `${where}: connections[${i}]`
      if (!Array.isArray(c) || c.length !== 2) throw new TypeError(`${w} must be a [from, to] pair of node ids, got ${describe(c)}`)
      within(w, () => g.connect(refOf('from', c[0]), refOf('to', c[1])))
    })
    const automation = d.automation === undefined ? [] : d.automation
    if (!Array.isArray(automation)) throw new TypeError(`${where}: 'automation' must be an array, got ${describe(automation)}`)
    automation.forEach((a: unknown, i) => {
      const w = `${where}: automation[${i}]`
      const lane = checkObject(w, a, false)
      checkKeys(w, lane, ['node', 'param', 'points'])
      within(w, () => g.automate(refOf('node', lane.node), lane.param as string, new AutomationLane(lane.points as AutomationPoint[])))
    })
    return g
  }
}

/** JSON with non-finite numbers as strings, so the engine refuses them by name. */
function stringify(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))
}

// ---------------------------------------------------------------------------
// Offline rendering

/** Loudness and level readings of one meter node. Silence reads `-Infinity`. */
export interface MeterReading {
  /** Sample peak, dBFS, max over channels (real time: since the previous delivery). */
  peakDb: number
  /** RMS level, dBFS, max over channels (real time: since the previous delivery). */
  rmsDb: number
  /** True peak per ITU-R BS.1770-4 Annex 2 (4× or more oversampled), dBTP. */
  truePeakDb: number
  /** Momentary loudness (400 ms window ending now), LUFS. */
  momentaryLufs: number
  /** Short-term loudness (3 s window ending now), LUFS. */
  shortTermLufs: number
  /** Gated integrated loudness (EBU R128) since the start or `resetMeter`, LUFS. */
  integratedLufs: number
  /** Loudness range (EBU Tech 3342) since the start or `resetMeter`, LU. */
  loudnessRangeLu: number
}

/** What {@link renderOffline} resolves to. */
export interface RenderResult {
  /** `channels` arrays of `frames` samples. */
  channels: Float32Array[]
  /** What `graph.latencyFrames(sampleRate)` reports. */
  latencyFrames: number
  /** One entry per meter node, keyed by its name (or id). */
  meters: Record<string, MeterReading>
}

/** Options of {@link renderOffline}. */
export interface RenderOptions {
  /** Frames per second (1000 to 1536000). */
  sampleRate: number
  /** Frames to render. */
  frames: number
  /** Default 2. */
  channels?: number
  /** Fed to `graph.input`: 1 channel (to every channel) or `channels`. */
  input?: Float32Array[]
  /** Default 128; does not change the result. */
  blockSize?: number
}

/**
 * Renders `graph` offline, off the JavaScript thread, with the same render
 * core as the real-time engine.
 *
 * ```ts
 * const { channels, meters } = await renderOffline(g, { sampleRate: 48000, frames: 48000 })
 * ```
 */
export async function renderOffline(graph: Graph, o: RenderOptions): Promise<RenderResult> {
  if (!(graph instanceof Graph)) throw new TypeError(`renderOffline: graph must be a Graph, got ${describe(graph)}`)
  const opts = checkObject('renderOffline', o, false)
  checkKeys('renderOffline', opts, ['sampleRate', 'frames', 'channels', 'input', 'blockSize'])
  const sampleRate = checkSampleRate('renderOffline', opts.sampleRate)
  const frames = checkFrames('renderOffline', 'frames', opts.frames)
  const channels = opts.channels === undefined ? 2 : checkNumber('renderOffline', 'channels', opts.channels)
  const blockSize = opts.blockSize === undefined ? 128 : checkNumber('renderOffline', 'blockSize', opts.blockSize)
  const input = opts.input === undefined ? [] : checkChannels('renderOffline', 'input', opts.input)
  const { json, buffers } = graph.serialize()
  const r = await callNativeAsync(() => native.renderOfflineNative(json, buffers, sampleRate, frames, channels, blockSize, input))
  return { channels: r.channels, latencyFrames: r.latencyFrames, meters: r.meters }
}

// ---------------------------------------------------------------------------
// WAV files

/** Writes planar channels to a WAV file: 16- or 24-bit PCM, or 32-bit float. */
export function writeWav(path: string, channels: Float32Array[], sampleRate: number, o?: { bitDepth?: 16 | 24 | 32 }): void {
  if (typeof path !== 'string') throw new TypeError(`writeWav: path must be a string, got ${describe(path)}`)
  checkChannels('writeWav', 'channels', channels)
  checkSampleRate('writeWav', sampleRate)
  const opts = checkObject('writeWav', o, true)
  checkKeys('writeWav', opts, ['bitDepth'])
  const bitDepth = opts.bitDepth === undefined ? 16 : checkNumber('writeWav', 'bitDepth', opts.bitDepth)
  callNative(() => native.writeWavNative(path, channels, sampleRate, bitDepth))
}

/** A decoded WAV file. */
export interface WavFile {
  /** Frames per second. */
  sampleRate: number
  /** One `Float32Array` per channel, in [-1, 1] for integer formats. */
  channels: Float32Array[]
}

/** Reads a WAV file (16/24/32-bit PCM or 32-bit float) into planar `Float32Array` channels. */
export function readWav(path: string): WavFile {
  if (typeof path !== 'string') throw new TypeError(`readWav: path must be a string, got ${describe(path)}`)
  return callNative(() => native.readWavNative(path))
}

// ---------------------------------------------------------------------------
// Real-time engine

/** What {@link Engine.stats} reports. */
export interface EngineStats {
  /** Audio callbacks so far. */
  callbacks: number
  /** Frames rendered so far. */
  framesRendered: number
  /** Backend underruns plus callbacks over budget (plus the null backend's late wake-ups). */
  xruns: number
  /** Of `xruns`: callbacks that took longer than the buffer's duration. */
  overrunCallbacks: number
  /** Of `xruns`: times the null backend's thread woke more than a period late. */
  lateWakeups: number
  /** Of `xruns`: underruns reported by the device backend. */
  backendXruns: number
  /** The buffer's duration, µs. */
  budgetUs: number
  /** Median callback time, µs. */
  p50Us: number
  /** 99th percentile callback time, µs. */
  p99Us: number
  /** Longest callback, µs. */
  maxUs: number
  /** Control messages that did not fit the queue. */
  droppedMessages: number
  /** The audio thread got a real-time scheduling class. */
  realtimePriority: boolean
  /** FTZ/DAZ is on in the audio callback. */
  denormalsFlushed: boolean
  /** The kernel set chosen at run time. */
  simd: string
}

/** Options of {@link Engine.open}. */
export interface EngineOpenOptions {
  /** Device id or name from {@link listDevices} (default: the default device). */
  device?: string
  /** Requested sample rate; `engine.sampleRate` tells what was granted. */
  sampleRate?: number
  /** Requested buffer size in frames (fixed when the device allows). */
  bufferSize?: number
  /** Output channel count (default: the device's). */
  channels?: number
  /** Capture device; the graph's `input` reads it. */
  inputDevice?: string
}

/** Options of {@link Engine.setParam}. */
export interface SetParamOptions {
  /** Linear ramp length. Default: 0 with `atFrame`, else a 5 ms de-zipper ramp. */
  rampMs?: number
  /** Transport frame where the change starts (sample-accurate). */
  atFrame?: number
}

function optionalNumber(where: string, o: Record<string, unknown>, k: string): number | undefined {
  return o[k] === undefined ? undefined : checkNumber(where, k, o[k])
}

function optionalString(where: string, o: Record<string, unknown>, k: string): string | undefined {
  if (o[k] === undefined) return undefined
  if (typeof o[k] !== 'string') throw new TypeError(`${where}: '${k}' must be a string, got ${describe(o[k])}`)
  return o[k] as string
}

function readingFromNative(r: native.NativeMeterReading): MeterReading {
  return {
    peakDb: r.peakDb,
    rmsDb: r.rmsDb,
    truePeakDb: r.truePeakDb,
    momentaryLufs: r.momentaryLufs,
    shortTermLufs: r.shortTermLufs,
    integratedLufs: r.integratedLufs,
    loudnessRangeLu: r.loudnessRangeLu,
  }
}

/**
 * A running real-time engine on a device, or on the clock-paced null backend.
 *
 * The transport starts playing when the engine opens; `stop()` pauses it (the
 * engine outputs silence and the position holds), `play()` resumes.
 *
 * ```ts
 * const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
 * engine.setGraph(graph)
 * const off = engine.onMeters((m) => console.log(m.master.peakDb), { fps: 30 })
 * // ...
 * off()
 * await engine.close()
 * ```
 */
export class Engine {
  #native: native.NativeEngine

  private constructor(n: native.NativeEngine) {
    this.#native = n
  }

  static async #open(where: string, nullBackend: boolean, o: unknown, keys: string[]): Promise<Engine> {
    const opts = checkObject(where, o, true)
    checkKeys(where, opts, keys)
    const n = await callNativeAsync(() =>
      native.openEngineNative(
        nullBackend,
        optionalNumber(where, opts, 'sampleRate'),
        optionalNumber(where, opts, 'bufferSize'),
        optionalNumber(where, opts, 'channels'),
        optionalString(where, opts, 'device'),
        optionalString(where, opts, 'inputDevice'),
      ),
    )
    return new Engine(n)
  }

  /** Opens a device (default: the default output device). Rejects with a clear error when it does not exist. */
  static open(o?: EngineOpenOptions): Promise<Engine> {
    return Engine.#open('Engine.open', false, o, ['device', 'sampleRate', 'bufferSize', 'channels', 'inputDevice'])
  }

  /** Opens the null backend: no device, callbacks paced by a clock (headless servers, CI). */
  static openNull(o?: { sampleRate?: number; bufferSize?: number; channels?: number }): Promise<Engine> {
    return Engine.#open('Engine.openNull', true, o, ['sampleRate', 'bufferSize', 'channels'])
  }

  /** Replaces the playing graph (compiled here, swapped in on the audio thread); nodes that persist keep their state. */
  setGraph(g: Graph): void {
    if (!(g instanceof Graph)) throw new TypeError(`setGraph: expected a Graph, got ${describe(g)}`)
    const { json, buffers } = g.serialize()
    callNative(() => this.#native.setGraph(json, buffers))
  }

  /**
   * Replaces the automation lanes of the playing graph without recompiling it
   * (glitch-free, sample-accurate from the next callback). Pass the graph whose
   * `automate` calls describe the lanes (its nodes must be those playing), or a
   * list of lanes. Parameters that lose their lane keep the last value it gave.
   */
  setAutomation(source: Graph | Array<{ node: NodeRef | number; param: string; lane: AutomationLane }>): void {
    let json: string
    if (source instanceof Graph) {
      json = source.serializeAutomation()
    } else if (Array.isArray(source)) {
      const lanes = source.map((l, i) => {
        if (typeof l !== 'object' || l === null) throw new TypeError(`setAutomation: lanes[${i}] must be an object, got ${describe(l)}`)
        const node = typeof l.node === 'number' ? l.node : (l.node as NodeRef | undefined)?.id
        if (typeof node !== 'number') throw new TypeError(`setAutomation: lanes[${i}].node must be a NodeRef or a node id, got ${describe(l.node)}`)
        if (typeof l.param !== 'string') throw new TypeError(`setAutomation: lanes[${i}].param must be a string, got ${describe(l.param)}`)
        if (!(l.lane instanceof AutomationLane)) throw new TypeError(`setAutomation: lanes[${i}].lane must be an AutomationLane, got ${describe(l.lane)}`)
        return { node, param: l.param, points: l.lane.toJSON() }
      })
      json = stringify(lanes)
    } else {
      throw new TypeError(`setAutomation: expected a Graph or an array of lanes, got ${describe(source)}`)
    }
    callNative(() => this.#native.setAutomation(json))
  }

  /** Changes a parameter of a node of the current graph, now or at a transport frame, optionally ramped. */
  setParam(node: NodeRef | number, param: string, value: number, o?: SetParamOptions): void {
    const id = typeof node === 'number' ? node : typeof node === 'object' && node !== null ? (node as NodeRef).id : undefined
    if (typeof id !== 'number') throw new TypeError(`setParam: node must be a NodeRef or a node id, got ${describe(node)}`)
    if (typeof param !== 'string') throw new TypeError(`setParam: param must be a string, got ${describe(param)}`)
    if (typeof value !== 'number') throw new TypeError(`setParam: value for '${param}' must be a number, got ${describe(value)}`)
    const opts = checkObject('setParam', o, true)
    checkKeys('setParam', opts, ['rampMs', 'atFrame'])
    for (const k of ['rampMs', 'atFrame']) {
      if (opts[k] !== undefined && typeof opts[k] !== 'number') throw new TypeError(`setParam: '${k}' must be a number, got ${describe(opts[k])}`)
    }
    callNative(() => this.#native.setParam(id, param, value, opts.rampMs as number | undefined, opts.atFrame as number | undefined))
  }

  /** Starts or resumes the transport. */
  play(): void {
    callNative(() => this.#native.play())
  }

  /** Pauses the transport; the engine outputs silence. */
  stop(): void {
    callNative(() => this.#native.stop())
  }

  /** Moves the transport to `frame`. */
  seek(frame: number): void {
    checkFrames('seek', 'frame', frame)
    callNative(() => this.#native.seek(frame))
  }

  /** Loops the transport over `start..end` (end exclusive); `null` ends looping. */
  setLoop(start: number, end: number | null): void {
    checkFrames('setLoop', 'start', start)
    if (end !== null) checkFrames('setLoop', 'end', end)
    callNative(() => this.#native.setLoop(start, end ?? undefined))
  }

  /** The transport frame. */
  get position(): number {
    return this.#native.position
  }

  /** The sample rate the device granted. */
  get sampleRate(): number {
    return this.#native.sampleRate
  }

  /** The buffer size the device granted, in frames. */
  get bufferSize(): number {
    return this.#native.bufferSize
  }

  /** The output channel count. */
  get channels(): number {
    return this.#native.channels
  }

  /** Latency the current graph reports to the output, in frames. */
  get latencyFrames(): number {
    return this.#native.latencyFrames
  }

  /**
   * Calls `cb` about `fps` times a second (default 30) with every meter's
   * reading: peaks and RMS over the interval since the previous call,
   * loudness over its windows. Returns the unsubscribe function.
   */
  onMeters(cb: (m: Record<string, MeterReading>) => void, o?: { fps?: number }): () => void {
    if (typeof cb !== 'function') throw new TypeError(`onMeters: callback must be a function, got ${describe(cb)}`)
    const opts = checkObject('onMeters', o, true)
    checkKeys('onMeters', opts, ['fps'])
    const fps = opts.fps === undefined ? 30 : checkNumber('onMeters', 'fps', opts.fps)
    const id = callNative(() =>
      this.#native.onMeters((m: Record<string, native.NativeMeterReading>) => {
        const out: Record<string, MeterReading> = {}
        for (const [k, r] of Object.entries(m)) out[k] = readingFromNative(r)
        cb(out)
      }, fps),
    )
    return () => this.#native.offMeters(id)
  }

  /** Starts meter `name`'s integrated loudness and loudness range anew. */
  resetMeter(name: string): void {
    if (typeof name !== 'string') throw new TypeError(`resetMeter: name must be a string, got ${describe(name)}`)
    callNative(() => this.#native.resetMeter(name))
  }

  /** Calls `cb` on device loss or stream errors; the engine can then be reopened. Returns the unsubscribe function. */
  onError(cb: (e: Error) => void): () => void {
    if (typeof cb !== 'function') throw new TypeError(`onError: callback must be a function, got ${describe(cb)}`)
    const id = callNative(() =>
      this.#native.onError((msg: string) => {
        const m = TAG.exec(msg)
        cb(new Error(m ? m[2] : msg))
      }),
    )
    return () => this.#native.offError(id)
  }

  /** Callback timing, xruns, dropped messages, priority, denormal and SIMD facts. */
  stats(): EngineStats {
    const s = this.#native.stats()
    return { ...s }
  }

  /** Stops the audio, releases every callback; the process can then exit. */
  async close(): Promise<void> {
    this.#native.close()
  }
}

/** One audio device. */
export interface DeviceInfo {
  /** Identifier to pass as `device` (for example `alsa:null`). */
  id: string
  /** Human-readable name. */
  name: string
  /** Whether this is the system's default output. */
  isDefault: boolean
  /** Most output channels the device offers (0: input only). */
  outputChannels: number
  /** Most input channels the device offers (0: output only). */
  inputChannels: number
  /** Common sample rates the device supports. */
  sampleRates: number[]
}

/** The audio devices that can be opened (ALSA's `null` device is one, even without a sound card). */
export function listDevices(): DeviceInfo[] {
  return callNative(() => native.listDevicesNative())
}
