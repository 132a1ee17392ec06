// The processor graph: node builders, connections, automation, and the
// serialized form sent to the engine (and read back by Graph.fromJSON).
import * as native from '../load-binding' // binding.js, with a load error that says what to install
import { AutomationLane } from './automation'
import type { AutomationPoint } from './automation'
import { callNative } from './errors'
// eslint-disable-next-line @typescript-eslint/no-unused-vars
import type { AudioProcessorClass } from './processor'
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { checkChannels, checkFrames, checkKeys, checkNumber, checkObject, checkSampleRate, describe } from './validate'

/** The RBJ cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'allpass' | 'peaking' | 'lowshelf' | 'highshelf'

const BIQUAD_TYPES: readonly BiquadType[] = ['lowpass', 'highpass', 'bandpass', 'notch', 'allpass', 'peaking', 'lowshelf', 'highshelf']

/** Oscillator waveforms; saw, square and triangle are band-limited. */
export type Waveform = 'sine' | 'saw' | 'square' | 'triangle'

const WAVEFORMS: readonly Waveform[] = ['sine', 'saw', 'square', 'triangle']

/** Noise colours of {@link Graph.noise}. */
export type NoiseColor = 'white' | 'pink' | 'brown'

const NOISE_COLORS: readonly NoiseColor[] = ['white', 'pink', 'brown']

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

/** Options of {@link Graph.processor}. */
export interface ProcessorNodeOptions {
  /** Path (relative to the working directory) or `file:` URL of the ES module whose default export is the processor class. */
  module: string
  /** Initial values of the module's `static parameters` (the rest take their defaults). */
  params?: Record<string, number>
  /** Channels `process` sees: 1 or the render's channel count (the default). */
  channels?: number
  /** JSON data passed to the constructor (its first argument). */
  options?: unknown
  /** Latency in blocks of 128 frames, 1 to 64 (default 2; an engine with a longer buffer raises it). */
  latencyBlocks?: number
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

/** The largest node id (the engine's ids are 32-bit). */
const MAX_NODE_ID = 0xffff_ffff

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
  #edges: Array<[number, number]> = []
  /** Compressor id → its sidechain key's source id. */
  #keys = new Map<number, number>()
  #lanes = new Map<string, { node: number; param: string; lane: AutomationLane }>()
  #nextId = 0
  #processors = 0
  // Connection bookkeeping, so building a graph stays n·log n whatever the
  // order connections arrive in: successors by
  // connection and by sidechain key (in insertion order, as the cycle
  // message's search walks them); predecessors (both kinds); and a
  // topological order kept incrementally (every edge a → b has ord(a) < ord(b)).
  /** Successor sets of nodes with many connections (below 16, the list is searched). */
  #outSets = new Map<number, Set<number>>()
  #outEdges = new Map<number, number[]>()
  #outKeys = new Map<number, number[]>()
  #preds = new Map<number, number[]>()
  #ord = new Map<number, number>()
  /** `meter\0key` / `analyser\0key` → the first node with that key (its name, or its id). */
  #tapKeys = new Map<string, number>()

  constructor() {
    this.input = this.#add('input', {}, {})
    this.output = this.#add('output', {}, {})
  }

  #add(type: string, params: Record<string, number>, options: Record<string, unknown>, audio: Record<string, Float32Array[]> = {}): NodeRef {
    const ref: NodeRef = Object.freeze({ id: this.#nextId++, type })
    this.#nodes.set(ref.id, { ref, params, options, audio })
    // The output never has outgoing connections: it can stay last for good.
    this.#ord.set(ref.id, type === 'output' ? Infinity : ref.id)
    if (type === 'meter' || type === 'analyser') {
      const key = `${type}\u0000${(options.name as string | undefined) ?? String(ref.id)}`
      if (!this.#tapKeys.has(key)) this.#tapKeys.set(key, ref.id)
    }
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
   * buffer's first frame. A mono buffer feeds every channel. `sampleRate` is
   * the buffer's own rate (default: the render's); a buffer at another rate
   * is resampled (band-limited, when the graph is compiled, never on the
   * audio thread), so a 44.1 kHz buffer plays at its pitch in a 48 kHz render.
   */
  player(o: { channels: Float32Array[]; sampleRate?: number; loop?: boolean; startFrame?: number }): NodeRef {
    const w = this.#where('player')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['channels', 'sampleRate', 'loop', 'startFrame'])
    const channels = checkChannels(w, 'channels', opts.channels)
    const options: Record<string, unknown> = {}
    if (opts.loop !== undefined) {
      if (typeof opts.loop !== 'boolean') throw new TypeError(`${w}: 'loop' must be a boolean, got ${describe(opts.loop)}`)
      options.loop = opts.loop
    }
    if (opts.startFrame !== undefined) options.startFrame = checkFrames(w, 'startFrame', opts.startFrame)
    if (opts.sampleRate !== undefined) options.sampleRate = checkSampleRate(w, opts.sampleRate)
    return this.#add('player', {}, options, { channels })
  }

  /**
   * Streams an audio file from disk (any format {@link probeFile} reads),
   * resampled to the render's rate, in constant memory whatever the file's
   * length: a reader thread decodes ahead into a lock-free ring (4 s, refilled
   * below 3 s; the first 1.5 s from `offsetFrames` are kept, so a jump back to
   * the start is instant), and the audio thread never touches the file.
   * Transport frame `p` plays file frame `offsetFrames + (p - startFrame)`
   * (at the render's rate): silence before `startFrame` and after the end, or,
   * with `loop`, the file again from its first frame. Render channel `c` plays
   * file channel `c mod n`. `gain` is a parameter (linear, 0..16, default 1).
   * Offline renders wait for the file's data (never a missing sample); in real
   * time a late read plays silence and counts in `stats().diskUnderruns`. The
   * file is opened when the graph is rendered or set: a file that cannot be
   * read is an `Error` naming it.
   */
  filePlayer(o: { path: string; startFrame?: number; offsetFrames?: number; loop?: boolean; gain?: number }): NodeRef {
    const w = this.#where('filePlayer')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['path', 'startFrame', 'offsetFrames', 'loop', 'gain'])
    if (typeof opts.path !== 'string' || opts.path.length === 0) throw new TypeError(`${w}: 'path' must be a non-empty string, got ${describe(opts.path)}`)
    const options: Record<string, unknown> = { path: opts.path }
    if (opts.startFrame !== undefined) options.startFrame = checkFrames(w, 'startFrame', opts.startFrame)
    if (opts.offsetFrames !== undefined) options.offsetFrames = checkFrames(w, 'offsetFrames', opts.offsetFrames)
    if (opts.loop !== undefined) {
      if (typeof opts.loop !== 'boolean') throw new TypeError(`${w}: 'loop' must be a boolean, got ${describe(opts.loop)}`)
      options.loop = opts.loop
    }
    const params: Record<string, number> = {}
    if (opts.gain !== undefined) params.gain = checkNumber(w, 'gain', opts.gain)
    return this.#add('filePlayer', params, options)
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
      const other = this.#tapKeys.get(`meter\u0000${opts.name}`)
      if (other !== undefined) throw new TypeError(`${w}: a meter named ${describe(opts.name)} already exists (meter #${other})`)
      options.name = opts.name
    }
    return this.#add('meter', {}, options)
  }

  /**
   * A pass-through spectrum tap of the mono mix (the mean of the channels).
   * `fftSize`: a power of two in 32..32768 (default 2048); `smoothing`: Web
   * Audio's time constant, 0..1 (default 0.8). Offline, `result.spectra[name]`
   * is the average power spectrum of the whole render; in real time
   * `engine.onSpectrum` delivers smoothed spectra and the waveform. A
   * full-scale sine centred on a bin reads 0 dB there. Keyed by `name` (or the id).
   */
  analyser(o?: { name?: string; fftSize?: number; smoothing?: number }): NodeRef {
    const w = this.#where('analyser')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['name', 'fftSize', 'smoothing'])
    const options: Record<string, unknown> = {}
    if (opts.name !== undefined) {
      if (typeof opts.name !== 'string') throw new TypeError(`${w}: 'name' must be a string, got ${describe(opts.name)}`)
      const other = this.#tapKeys.get(`analyser\u0000${opts.name}`)
      if (other !== undefined) throw new TypeError(`${w}: an analyser named ${describe(opts.name)} already exists (analyser #${other})`)
      options.name = opts.name
    }
    if (opts.fftSize !== undefined) {
      const n = checkNumber(w, 'fftSize', opts.fftSize)
      if (!Number.isInteger(n) || n < 32 || n > 32768 || (n & (n - 1)) !== 0) {
        throw new RangeError(`${w}: option 'fftSize' = ${n} must be a power of two in [32, 32768]`)
      }
      options.fftSize = n
    }
    if (opts.smoothing !== undefined) {
      const t = checkNumber(w, 'smoothing', opts.smoothing)
      if (t < 0 || t > 1) throw new RangeError(`${w}: option 'smoothing' = ${t} is out of range [0, 1]`)
      options.smoothing = t
    }
    return this.#add('analyser', {}, options)
  }

  /**
   * An FIR EQ with the magnitude of the same RBJ bands as {@link Graph.eq} and
   * no phase shift (allpass bands change nothing). `length`: odd, 15..65535
   * (default 4095); the node reports a latency of `(length - 1) / 2` frames,
   * which the graph compensates. The bands are fixed when the graph compiles
   * (the filter is designed then, off the audio thread); to change them, set
   * a graph with new bands: the node keeps its input history and the new
   * filter takes over within a partition (128 frames at the default length).
   */
  linearPhaseEq(o: { bands: EqBand[]; length?: number }): NodeRef {
    const w = this.#where('linearPhaseEq')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['bands', 'length'])
    if (!Array.isArray(opts.bands)) throw new TypeError(`${w}: 'bands' must be an array, got ${describe(opts.bands)}`)
    const bands = (opts.bands as unknown[]).map((b, i) => {
      const bw = `${w} bands[${i}]`
      const band = checkObject(bw, b, false)
      checkKeys(bw, band, ['type', 'frequency', 'q', 'gainDb'])
      const p = this.#biquadParams(w, band, `bands[${i}].`)
      return { type: band.type, frequency: p[`bands[${i}].frequency`], q: p[`bands[${i}].q`], gainDb: p[`bands[${i}].gainDb`] }
    })
    const options: Record<string, unknown> = { bands }
    if (opts.length !== undefined) {
      const n = checkNumber(w, 'length', opts.length)
      if (!Number.isInteger(n) || n < 15 || n > 65535 || n % 2 === 0) {
        throw new RangeError(`${w}: option 'length' = ${n} must be an odd whole number in [15, 65535]`)
      }
      options.length = n
    }
    return this.#add('linearPhaseEq', {}, options)
  }

  /**
   * Seeded noise: `'white'` (uniform in ±amplitude), `'pink'` (−3.01 dB per
   * octave) or `'brown'` (−6.02 dB per octave above 5 Hz); pink and brown have
   * an RMS of amplitude/4. The same `seed` (a whole number, default 0) gives
   * the same samples whatever the block size. `amplitude` (default 1) is
   * automatable. Every channel carries the same noise.
   */
  noise(o?: { color?: NoiseColor; amplitude?: number; seed?: number }): NodeRef {
    const w = this.#where('noise')
    const opts = checkObject(w, o, true)
    checkKeys(w, opts, ['color', 'amplitude', 'seed'])
    const color = opts.color ?? 'white'
    if (!NOISE_COLORS.includes(color as NoiseColor)) throw new TypeError(`${w}: unknown noise color ${describe(color)} (known: ${NOISE_COLORS.join(', ')})`)
    const params: Record<string, number> = { amplitude: opts.amplitude === undefined ? 1 : checkNumber(w, 'amplitude', opts.amplitude) }
    const options: Record<string, unknown> = { color }
    if (opts.seed !== undefined) {
      const seed = checkNumber(w, 'seed', opts.seed)
      if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${w}: option 'seed' = ${seed} must be a whole number in [0, 2^53)`)
      options.seed = seed
    }
    return this.#add('noise', params, options)
  }

  /**
   * A processor written in JavaScript or TypeScript: `module` is the path
   * (relative to the working directory) or `file:` URL of an ES module whose
   * default export is an {@link AudioProcessorClass}. It runs on a worker
   * thread beside the audio thread, 128 frames per `process` call, and
   * reports `latencyBlocks × 128` frames of latency (default 2 blocks, 256
   * frames; an engine whose buffer is longer than 128 frames raises it to
   * what its period needs), which the compiler compensates. `params` sets
   * initial values of the module's `static parameters`, which take
   * `setParam` and automation like any other. `channels` (1 or the render's
   * count, the default) is how many channels `process` sees: a one-channel
   * processor gets the mean of the channels and its output goes to every
   * channel. `options` (JSON data) is passed to the constructor. A missing
   * module file is refused here; a module that cannot be loaded, or whose
   * constructor throws, by `setGraph` / `renderOffline`.
   *
   * ```ts
   * const g = new Graph()
   * const trem = g.processor({ module: './tremolo.mjs', params: { rate: 4 } }) // default export: an AudioProcessorClass
   * g.chain(g.oscillator({ frequency: 220 }), trem, g.output)
   * ```
   */
  processor(o: ProcessorNodeOptions): NodeRef {
    const w = this.#where('processor')
    const opts = checkObject(w, o, false)
    checkKeys(w, opts, ['module', 'params', 'channels', 'options', 'latencyBlocks'])
    const module = opts.module instanceof URL ? opts.module.href : opts.module
    if (typeof module !== 'string' || module === '') throw new TypeError(`${w}: option 'module' must be a path or a file: URL, got ${describe(opts.module)}`)
    let file: string
    if (module.startsWith('file:')) {
      try {
        file = fileURLToPath(module)
      } catch (e) {
        throw new TypeError(`${w}: option 'module' = '${module}' is not a valid file: URL (${(e as Error).message})`)
      }
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) {
      throw new TypeError(`${w}: option 'module' = '${module}' must be a path or a file: URL`)
    } else {
      file = nodePath.resolve(module)
    }
    if (!fs.existsSync(file)) throw new TypeError(`${w}: module '${module}' does not exist (${file})`)
    const params: Record<string, number> = {}
    const p = checkObject(`${w}: params`, opts.params, true)
    for (const [k, v] of Object.entries(p)) params[k] = checkNumber(w, k, v)
    const options: Record<string, unknown> = { module: pathToFileURL(file).href }
    if (opts.channels !== undefined) {
      const c = checkNumber(w, 'channels', opts.channels)
      if (!Number.isInteger(c) || c < 1 || c > 32) throw new RangeError(`${w}: option 'channels' = ${c} must be a whole number in [1, 32]`)
      options.channels = c
    }
    if (opts.latencyBlocks !== undefined) {
      const k = checkNumber(w, 'latencyBlocks', opts.latencyBlocks)
      if (!Number.isInteger(k) || k < 1 || k > 64) throw new RangeError(`${w}: option 'latencyBlocks' = ${k} must be a whole number in [1, 64]`)
      options.latencyBlocks = k
    }
    if (opts.options !== undefined) {
      let text: string | undefined
      try {
        text = JSON.stringify(opts.options, (_k, v) => {
          if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') throw new TypeError(`a ${typeof v} cannot be sent to the worker`)
          if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`${v} is not JSON`)
          return v
        })
      } catch (e) {
        throw new TypeError(`${w}: option 'options' must be JSON data (${(e as Error).message})`)
      }
      if (text === undefined) throw new TypeError(`${w}: option 'options' must be JSON data, got ${describe(opts.options)}`)
      options.options = JSON.parse(text)
    }
    this.#processors++
    return this.#add('processor', params, options)
  }

  #record(where: string, ref: unknown, role: string): NodeRecord {
    if (typeof ref !== 'object' || ref === null || typeof (ref as NodeRef).id !== 'number') {
      throw new TypeError(`${where}: ${role} must be a node of this graph, got ${describe(ref)}`)
    }
    const rec = this.#nodes.get((ref as NodeRef).id)
    if (!rec || rec.ref !== ref) {
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
    if (['input', 'oscillator', 'constant', 'player', 'filePlayer'].includes(t.ref.type)) {
      throw new TypeError(`connect: ${label(t)} takes no input (${label(f)} → ${label(t)})`)
    }
    if (this.#hasEdge(f.ref.id, t.ref.id)) return this
    // Refuse a cycle: is `from` reachable from `to`?
    if (!this.#order(f.ref.id, t.ref.id)) {
      const path = this.#pathFrom(t.ref.id, f.ref.id)!
      const names = [...path, t.ref.id].map((id) => label(this.#nodes.get(id)!))
      throw new RangeError(`connect: cycle: ${names.join(' → ')}`)
    }
    this.#edges.push([f.ref.id, t.ref.id])
    push(this.#outEdges, f.ref.id, t.ref.id)
    const out = this.#outEdges.get(f.ref.id)!
    if (out.length >= 16) {
      const set = this.#outSets.get(f.ref.id)
      if (set) set.add(t.ref.id)
      else this.#outSets.set(f.ref.id, new Set(out))
    }
    push(this.#preds, t.ref.id, f.ref.id)
    return this
  }

  #hasEdge(a: number, b: number): boolean {
    const set = this.#outSets.get(a)
    if (set) return set.has(b)
    return this.#outEdges.get(a)?.includes(b) ?? false
  }

  /**
   * A path from `start` to `goal` (the first a depth-first search finds), or
   * null. Only used to name a cycle once {@link Graph.#order} has found one.
   */
  #pathFrom(start: number, goal: number): number[] | null {
    // Stack entries index `nodes`/`parents`, so a path costs nothing until it is the answer.
    const nodes: number[] = [start]
    const parents: number[] = [-1]
    const stack: number[] = [0]
    const seen = new Set<number>()
    while (stack.length) {
      const e = stack.pop()!
      const n = nodes[e]
      if (n === goal) {
        const path: number[] = []
        for (let i = e; i >= 0; i = parents[i]) path.push(nodes[i])
        return path.reverse()
      }
      if (seen.has(n)) continue
      seen.add(n)
      for (const next of [...(this.#outEdges.get(n) ?? []), ...(this.#outKeys.get(n) ?? [])]) {
        nodes.push(next)
        parents.push(e)
        stack.push(nodes.length - 1)
      }
    }
    return null
  }

  #succ(n: number): number[] {
    const a = this.#outEdges.get(n)
    const b = this.#outKeys.get(n)
    return a ? (b ? [...a, ...b] : a) : (b ?? [])
  }

  /**
   * Keeps the topological order valid for a new edge `u → v` and tells
   * whether it is acyclic (false: `u` is reachable from `v`). Cheap when
   * `ord(u) < ord(v)`; otherwise a two-way search (forward from `v` through
   * nodes ordered before `u`, backward from `u` through nodes ordered after
   * `v`, one node each in turn) stops when either side is exhausted, and
   * that side's nodes are moved past the other end. So a step costs about
   * the smaller of the two affected sets, not the graph.
   */
  #order(u: number, v: number): boolean {
    if (u === v) return false
    const ord = this.#ord
    const ou = ord.get(u)!
    const ov = ord.get(v)!
    if (ou < ov) return true
    if (!this.#preds.has(u)) {
      // Nothing leads to `u` (a new upstream node, the usual way to build output-first): it can go just before `v`.
      ord.set(u, ov - 1)
      return true
    }
    const fSeen = new Set<number>([v])
    const bSeen = new Set<number>([u])
    const fStack = [v]
    const bStack = [u]
    for (;;) {
      if (bStack.length === 0) {
        // Every ancestor of `u` ordered after `v` is known: move them just before `v`.
        let lo = -Infinity
        for (const x of bSeen) for (const p of this.#preds.get(x) ?? []) if (!bSeen.has(p) && ord.get(p)! > lo) lo = ord.get(p)!
        if (!this.#place([...bSeen], lo, ov)) this.#relabel(u, v)
        return true
      }
      const x = bStack.pop()!
      for (const p of this.#preds.get(x) ?? []) {
        if (fSeen.has(p)) return false
        if (!bSeen.has(p) && ord.get(p)! > ov) {
          bSeen.add(p)
          bStack.push(p)
        }
      }
      if (fStack.length === 0) {
        // Every descendant of `v` ordered before `u` is known: move them just after `u`.
        let hi = Infinity
        for (const y of fSeen) for (const s of this.#succ(y)) if (!fSeen.has(s) && ord.get(s)! < hi) hi = ord.get(s)!
        if (!this.#place([...fSeen], ou, hi)) this.#relabel(u, v)
        return true
      }
      const y = fStack.pop()!
      for (const s of this.#succ(y)) {
        if (bSeen.has(s)) return false
        if (!fSeen.has(s) && ord.get(s)! < ou) {
          fSeen.add(s)
          fStack.push(s)
        }
      }
    }
  }

  /** Gives `ids` (kept in their relative order) new ranks strictly between `lo` and `hi`; false when floating point has no room left. */
  #place(ids: number[], lo: number, hi: number): boolean {
    const ord = this.#ord
    ids.sort((a, b) => ord.get(a)! - ord.get(b)!)
    const k = ids.length
    const ranks: number[] = []
    if (lo === -Infinity && hi === Infinity) for (let i = 0; i < k; i++) ranks.push(i)
    else if (lo === -Infinity) for (let i = 0; i < k; i++) ranks.push(hi - k + i)
    else if (hi === Infinity) for (let i = 0; i < k; i++) ranks.push(lo + 1 + i)
    else for (let i = 0; i < k; i++) ranks.push(lo + ((hi - lo) * (i + 1)) / (k + 1))
    for (let i = 0; i < k; i++) if (!(ranks[i] > (i ? ranks[i - 1] : lo) && ranks[i] < hi)) return false
    ids.forEach((id, i) => ord.set(id, ranks[i]))
    return true
  }

  /** Renumbers every node in a topological order of the graph plus the new edge `u → v` (known acyclic). */
  #relabel(u: number, v: number): void {
    const indeg = new Map<number, number>()
    for (const id of this.#nodes.keys()) indeg.set(id, (this.#preds.get(id)?.length ?? 0) + (id === v ? 1 : 0))
    const queue: number[] = []
    for (const [id, d] of indeg) if (d === 0) queue.push(id)
    let rank = 0
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i]
      this.#ord.set(n, this.#nodes.get(n)!.ref.type === 'output' ? Infinity : rank++)
      const next = this.#succ(n)
      for (const s of n === u ? [...next, v] : next) {
        const d = indeg.get(s)! - 1
        indeg.set(s, d)
        if (d === 0) queue.push(s)
      }
    }
  }

  /**
   * Feeds `from`'s output to `compressor`'s detector instead of its own
   * input (ducking): the compressor still compresses what is connected to
   * it, by how loud `from` is. The key is not mixed in anywhere (connect
   * `from` to the output as well to hear it), and it is aligned with the
   * compressor's input when either path has latency. One key per
   * compressor; a key that would close a cycle is a `RangeError`.
   *
   * ```ts
   * const g = new Graph()
   * const music = g.oscillator({ frequency: 220, amplitude: 0.3 })
   * const voice = g.input
   * const duck = g.compressor({ thresholdDb: -30, ratio: 8 })
   * g.chain(music, duck, g.output).connect(voice, g.output).sidechain(voice, duck)
   * ```
   */
  sidechain(from: NodeRef, compressor: NodeRef): this {
    const f = this.#record('sidechain', from, 'from')
    const c = this.#record('sidechain', compressor, 'compressor')
    const label = (r: NodeRecord) => `${r.ref.type} #${r.ref.id}`
    if (c.ref.type !== 'compressor') {
      throw new TypeError(`sidechain: ${label(c)} is not a compressor: only a compressor takes a key (${label(f)} → ${label(c)})`)
    }
    if (f.ref.type === 'output') throw new TypeError(`sidechain: ${label(f)} is the master output and has no outgoing connections`)
    const existing = this.#keys.get(c.ref.id)
    if (existing === f.ref.id) return this
    if (existing !== undefined) {
      throw new TypeError(`sidechain: ${label(c)} already has a key, ${label(this.#nodes.get(existing)!)} (a second one from ${label(f)})`)
    }
    if (f.ref.id === c.ref.id) throw new RangeError(`sidechain: cycle: ${label(c)} is keyed by itself`)
    if (!this.#order(f.ref.id, c.ref.id)) {
      const path = this.#pathFrom(c.ref.id, f.ref.id)!
      const names = [...path].map((id) => label(this.#nodes.get(id)!))
      throw new RangeError(`sidechain: cycle: ${names.join(' → ')} → (sidechain key) ${label(c)}`)
    }
    this.#keys.set(c.ref.id, f.ref.id)
    push(this.#outKeys, f.ref.id, c.ref.id)
    push(this.#preds, c.ref.id, f.ref.id)
    return this
  }

  #sidechains(): Array<[number, number]> {
    return [...this.#keys].map(([c, k]) => [k, c])
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
    // A processor's parameters are its module's, known once it is loaded (setGraph, renderOffline).
    if (rec.ref.type !== 'processor' && !known.includes(param)) {
      throw new TypeError(`automate: ${rec.ref.type} #${rec.ref.id}: unknown parameter '${param}' (known: ${known.length ? known.join(', ') : 'none'})`)
    }
    if (!(lane instanceof AutomationLane)) throw new TypeError(`automate: lane must be an AutomationLane, got ${describe(lane)}`)
    this.#lanes.set(`${rec.ref.id}\u0000${param}`, { node: rec.ref.id, param, lane })
    return this
  }

  /** The latency reported to the output at `sampleRate`, in frames. */
  latencyFrames(sampleRate: number): number {
    checkSampleRate('latencyFrames', sampleRate)
    const { json, buffers } = this.serialize(true)
    return callNative(() => native.graphLatencyNative(json, buffers, sampleRate, 2))
  }

  #serializeNodes(audioRef: (chans: Float32Array[]) => unknown, latencyOnly = false) {
    return [...this.#nodes.values()].map((r) => {
      const options: Record<string, unknown> = { ...r.options }
      if (latencyOnly && r.ref.type === 'processor') {
        // No worker to load the module: parameters as the graph names them, unbounded.
        const names = new Set(Object.keys(r.params))
        for (const l of this.#lanes.values()) if (l.node === r.ref.id) names.add(l.param)
        options.parameters = [...names].map((name) => ({ name, default: r.params[name] ?? 0 }))
        options.latencyOnly = true
      }
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
      ...(this.#keys.size ? { sidechains: this.#sidechains() } : {}),
      automation: this.#automation(),
    }
  }

  /** @internal The JSON and the side buffers (no copies of audio into JSON). */
  serialize(latencyOnly = false): { json: string; buffers: Float32Array[][] } {
    const buffers: Float32Array[][] = []
    const doc = {
      format: 'ferrite-graph',
      version: GRAPH_FORMAT_VERSION,
      nodes: this.#serializeNodes((chans) => {
        buffers.push(chans)
        return { buffer: buffers.length - 1 }
      }, latencyOnly),
      connections: this.#edges,
      sidechains: this.#sidechains(),
      automation: this.#automation(),
    }
    return { json: stringify(doc), buffers }
  }

  /** @internal Whether the graph has `processor` nodes (they need a {@link ProcessorHost}). */
  hasProcessors(): boolean {
    return this.#processors > 0
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
   * (`Graph.fromJSON: nodes[3] (biquad, id 3): ...`). Node ids are kept
   * whatever order the nodes are listed in (0 is the input, 1 the output; ids
   * are whole numbers up to 2^32 - 1), so meter readings and `setParam` by
   * id refer to the same nodes as in the document.
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
    checkKeys(where, d, ['format', 'version', 'nodes', 'connections', 'sidechains', 'automation'])
    if (!Array.isArray(d.nodes)) throw new TypeError(`${where}: 'nodes' must be an array, got ${describe(d.nodes)}`)
    const g = new Graph()
    const refs = new Map<number, NodeRef>()
    let maxId = 1
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
      if (node.id < 0 || node.id > MAX_NODE_ID) throw new RangeError(`${w}: 'id' = ${node.id} is out of range [0, ${MAX_NODE_ID}]`)
      // Ids are kept from the document (meter readings and setParam refer to them); 0 and 1 are the input's and output's.
      const fixed = node.type === 'input' ? 0 : node.type === 'output' ? 1 : undefined
      if (fixed !== undefined && node.id !== fixed) throw new TypeError(`${w}: the ${node.type} node's id must be ${fixed}`)
      if (fixed === undefined && (node.id === 0 || node.id === 1)) {
        throw new TypeError(`${w}: id ${node.id} is the ${node.id === 0 ? 'input' : 'output'} node's`)
      }
      g.#nextId = node.id
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
          case 'noise':
            return g.noise(both())
          case 'analyser':
            return g.analyser(both())
          case 'linearPhaseEq':
            return g.linearPhaseEq(both())
          case 'processor':
            checkKeys('options', options, ['module', 'channels', 'options', 'latencyBlocks'])
            return g.processor({ ...options, params } as never)
          case 'player':
            if ('channels' in options) options.channels = audio('options.channels', options.channels)
            return g.player(both())
          case 'filePlayer':
            return g.filePlayer(both())
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
      maxId = Math.max(maxId, node.id)
    })
    g.#nextId = maxId + 1
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
    const sidechains = d.sidechains === undefined ? [] : d.sidechains
    if (!Array.isArray(sidechains)) throw new TypeError(`${where}: 'sidechains' must be an array, got ${describe(sidechains)}`)
    sidechains.forEach((c: unknown, i) => {
      const w = `${where}: sidechains[${i}]`
      if (!Array.isArray(c) || c.length !== 2) throw new TypeError(`${w} must be a [from, compressor] pair of node ids, got ${describe(c)}`)
      within(w, () => g.sidechain(refOf('from', c[0]), refOf('compressor', c[1])))
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

function push(m: Map<number, number[]>, k: number, v: number): void {
  const a = m.get(k)
  if (a) a.push(v)
  else m.set(k, [v])
}

/** @internal JSON with non-finite numbers as strings, so the engine refuses them by name. */
export function stringify(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))
}
