// The real-time engine: a device or the clock-paced null backend playing a
// graph, with parameter changes, transport, meters and statistics.
import * as native from '../load-binding'
import { AutomationLane } from './automation'
import { callNative, callNativeAsync, TAG } from './errors'
import { Graph, stringify } from './graph'
import type { NodeRef } from './graph'
import { readingFromNative } from './meters'
import type { MeterReading } from './meters'
import type { Spectrum } from './offline'
import { minLatencyBlocks, ProcessorHost } from './processor'
import { Recording } from './recording'
import type { RecordOptions } from './recording'
import { checkFrameLimit, checkFrames, checkKeys, checkNumber, checkObject, describe, checkMemoryBudget, checkThreads } from './validate'

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
  /** Frames that `filePlayer`s played as silence because the disk was late (since the engine opened). */
  diskUnderruns: number
  /** Frames recordings lost because their writer fell behind (see {@link Engine.record}). */
  recordDroppedFrames: number
  /**
   * Frames `analyser` nodes dropped because their ring to the events thread
   * (which runs the FFTs) was full: their spectra missed those frames. The
   * ring holds about 0.7 s at 48 kHz, so this stays 0 unless the process
   * starves the events thread.
   */
  analyserDroppedFrames: number
  /**
   * Blocks (128 frames) of `processor` nodes that played as silence because
   * their worker had not returned them in time (see {@link Graph.processor}).
   */
  processorUnderruns: number
  /** Threads that render: the audio thread plus the workers started (see {@link EngineOpenOptions.threads}). */
  threads: number
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
  /** Most bytes each graph given to `setGraph` may hold once compiled: default 2 GiB (see `renderOffline`'s). */
  memoryBudget?: number
  /**
   * Threads that render (a whole number in [1, 64]): the audio thread plus `threads - 1` workers started now,
   * which render the parts of a graph big enough to gain from it. Any count gives the same samples.
   * Default: every core. `stats().threads` tells how many run.
   */
  threads?: number
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
  #host: ProcessorHost | undefined
  #errorCallbacks = new Set<(e: Error) => void>()

  private constructor(n: native.NativeEngine) {
    this.#native = n
  }

  /** The worker of this engine's processors, started with the first graph that has one. */
  #processorHost(): ProcessorHost {
    if (!this.#host) {
      this.#host = new ProcessorHost({
        sampleRate: this.#native.sampleRate,
        channels: this.#native.channels,
        minLatencyBlocks: minLatencyBlocks(this.#native.bufferSize),
        onError: (e) => {
          for (const cb of this.#errorCallbacks) cb(e)
        },
      })
    }
    return this.#host
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
        checkMemoryBudget(where, opts),
        checkThreads(where, opts.threads),
      ),
    )
    return new Engine(n)
  }

  /** Opens a device (default: the default output device). Rejects with a clear error when it does not exist. */
  static open(o?: EngineOpenOptions): Promise<Engine> {
    return Engine.#open('Engine.open', false, o, ['device', 'sampleRate', 'bufferSize', 'channels', 'inputDevice', 'memoryBudget', 'threads'])
  }

  /** Opens the null backend: no device, callbacks paced by a clock (headless servers, CI). */
  static openNull(o?: { sampleRate?: number; bufferSize?: number; channels?: number; memoryBudget?: number; threads?: number }): Promise<Engine> {
    return Engine.#open('Engine.openNull', true, o, ['sampleRate', 'bufferSize', 'channels', 'memoryBudget', 'threads'])
  }

  /** Replaces the playing graph (compiled here, swapped in on the audio thread); nodes that persist keep their state. */
  setGraph(g: Graph): void {
    if (!(g instanceof Graph)) throw new TypeError(`setGraph: expected a Graph, got ${describe(g)}`)
    const { json, buffers } = g.serialize()
    if ((!g.hasProcessors() && !this.#host) || this.#native.closed) {
      callNative(() => this.#native.setGraph(json, buffers))
      return
    }
    const doc = JSON.parse(json)
    const tx = this.#processorHost().prepare(doc)
    try {
      callNative(() => this.#native.setGraph(JSON.stringify(doc), buffers))
    } catch (e) {
      tx.rollback()
      throw e
    }
    tx.commit()
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
    if (typeof opts.atFrame === 'number' && Number.isFinite(opts.atFrame)) checkFrameLimit('setParam', 'atFrame', opts.atFrame)
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

  /**
   * Calls `cb` about `fps` times a second (default 30) with every analyser's
   * spectrum (smoothed with its `smoothing`, computed on the engine's events
   * thread, never on the audio thread) and its newest `fftSize` samples
   * (`waveform`). Returns the unsubscribe function.
   */
  onSpectrum(cb: (s: Record<string, Spectrum & { waveform: Float32Array }>) => void, o?: { fps?: number }): () => void {
    if (typeof cb !== 'function') throw new TypeError(`onSpectrum: callback must be a function, got ${describe(cb)}`)
    const opts = checkObject('onSpectrum', o, true)
    checkKeys('onSpectrum', opts, ['fps'])
    const fps = opts.fps === undefined ? 30 : checkNumber('onSpectrum', 'fps', opts.fps)
    const id = callNative(() =>
      this.#native.onSpectrum((m: Record<string, native.NativeSpectrumFrame>) => {
        const out: Record<string, Spectrum & { waveform: Float32Array }> = {}
        for (const [k, v] of Object.entries(m)) out[k] = { frequencies: v.frequencies, magnitudesDb: v.magnitudesDb, waveform: v.waveform }
        cb(out)
      }, fps),
    )
    return () => this.#native.offSpectrum(id)
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
    // Processors that throw are reported from their worker (see Graph.processor).
    const local = (e: Error) => cb(e)
    this.#errorCallbacks.add(local)
    return () => {
      this.#errorCallbacks.delete(local)
      this.#native.offError(id)
    }
  }

  /**
   * Records a node's output, the master output (default) or the device input
   * to a WAV or FLAC file (by the extension). The audio thread copies each
   * block into a lock-free ring and a writer thread writes it, so a
   * recording stays gap-free while the JavaScript thread is blocked.
   * `startFrame` / `endFrame` punch in and out at exact transport frames.
   * Rejects (TypeError / RangeError naming the option) on bad options, and
   * with an Error naming the path when the file cannot be created.
   *
   * ```ts
   * const take = await engine.record({ path: 'take.wav', source: track, bitDepth: 24 })
   * // ...
   * const { frames, droppedFrames } = await take.stop()
   * ```
   */
  async record(o: RecordOptions): Promise<Recording> {
    const where = 'record'
    const opts = checkObject(where, o, false)
    checkKeys(where, opts, ['path', 'source', 'bitDepth', 'startFrame', 'endFrame'])
    const path = opts.path
    if (typeof path !== 'string' || path === '') throw new TypeError(`${where}: 'path' must be a non-empty string, got ${describe(path)}`)
    const source = opts.source === undefined ? 'output' : opts.source
    let kind: string
    let node: number | undefined
    if (source === 'output' || source === 'input') {
      kind = source
    } else if (typeof source === 'object' && source !== null && typeof (source as NodeRef).id === 'number') {
      kind = 'node'
      node = (source as NodeRef).id
    } else {
      throw new TypeError(`${where}: 'source' must be a NodeRef, 'output' or 'input', got ${describe(source)}`)
    }
    let bitDepth: number | undefined
    if (opts.bitDepth !== undefined) {
      bitDepth = checkNumber(where, 'bitDepth', opts.bitDepth)
      if (bitDepth !== 16 && bitDepth !== 24 && bitDepth !== 32) throw new RangeError(`${where}: 'bitDepth' = ${bitDepth} must be 16, 24 or 32`)
    }
    const startFrame = opts.startFrame === undefined ? undefined : checkFrames(where, 'startFrame', opts.startFrame)
    const endFrame = opts.endFrame === undefined ? undefined : checkFrames(where, 'endFrame', opts.endFrame)
    if (startFrame !== undefined && endFrame !== undefined && endFrame <= startFrame) {
      throw new RangeError(`${where}: 'endFrame' = ${endFrame} must be after 'startFrame' = ${startFrame}`)
    }
    return new Recording(callNative(() => this.#native.record(path, kind, node, bitDepth, startFrame, endFrame)))
  }

  /** Callback timing, xruns, dropped messages, priority, denormal and SIMD facts. */
  stats(): EngineStats {
    const s = this.#native.stats()
    return { ...s, processorUnderruns: this.#host?.underruns() ?? 0 }
  }

  /** Finishes every open recording (each file complete on disk), stops the audio, releases every callback; the process can then exit. */
  async close(): Promise<void> {
    this.#native.close()
    const host = this.#host
    this.#host = undefined
    this.#errorCallbacks.clear()
    await host?.close()
  }
}
