// Processors written in TypeScript: the types their authors implement, and
// the host that runs them on a worker thread beside the audio thread.
import * as path from 'node:path'
import type { MessagePort, Worker } from 'node:worker_threads'
import * as native from '../load-binding'
import { callNative } from './errors'

/**
 * `node:worker_threads`, loaded when the first host starts: most programs
 * (the CLI's analyses, every render without a processor written in
 * TypeScript) never start one, and need not pay for loading the module
 * at start-up.
 */
let threads: typeof import('node:worker_threads') | undefined
function workerThreads(): typeof import('node:worker_threads') {
  threads ??= require('node:worker_threads') as typeof import('node:worker_threads')
  return threads
}

/** One entry of a processor's `static parameters`. */
export interface ProcessorParameterDescriptor {
  /** Initial value when the graph gives none. */
  default: number
  /** Smallest accepted value (inclusive); default: unbounded. */
  min?: number
  /** Largest accepted value (inclusive); default: unbounded. */
  max?: number
}

/** The second argument of a processor's constructor. */
export interface ProcessorContext {
  /** Frames per second of the engine or render. */
  sampleRate: number
  /** Channels `process` receives (the node's `channels`). */
  channels: number
  /** Frames per `process` call: always 128. */
  blockSize: number
}

/**
 * Parameter values of one block: a `Float32Array` of `blockSize` values
 * (one per frame) when the parameter moves during the block, or a number
 * when it is constant over the block.
 */
export type ProcessorParams<K extends string = string> = Record<K, Float32Array | number>

/** An instance of a processor class (see {@link AudioProcessorClass}). */
export interface AudioProcessor {
  /**
   * Renders one block of {@link ProcessorContext.blockSize} frames: reads
   * `inputs` and writes `outputs` (one `Float32Array` per channel each;
   * `outputs` hold what an earlier block left there, so write every
   * sample). `frame` is the transport frame of the block's first frame.
   * Runs on the processor worker thread; the arrays are views of shared
   * memory, reused from block to block: read them during the call only.
   */
  process(inputs: Float32Array[], outputs: Float32Array[], params: ProcessorParams, frame: number): void
}

/**
 * What the default export of a processor module must be: a class with
 * `static parameters` (optional), constructed with the node's `options` and
 * a {@link ProcessorContext}.
 *
 * ```ts
 * import type { AudioProcessor, AudioProcessorClass, ProcessorContext, ProcessorParams } from 'ferrite-audio'
 *
 * export default class Gain implements AudioProcessor {
 *   static parameters = { gain: { default: 1, min: 0, max: 4 } }
 *   constructor(options: unknown, ctx: ProcessorContext) {}
 *   process(inputs: Float32Array[], outputs: Float32Array[], params: ProcessorParams): void {
 *     const g = params.gain
 *     for (let c = 0; c < inputs.length; c++)
 *       for (let i = 0; i < inputs[c].length; i++) outputs[c][i] = inputs[c][i] * (typeof g === 'number' ? g : g[i])
 *   }
 * }
 * Gain satisfies AudioProcessorClass
 * ```
 */
export interface AudioProcessorClass<O = unknown> {
  new (options: O, ctx: ProcessorContext): AudioProcessor
  /** Parameter names with their defaults and ranges: they take `setParam` and automation. */
  parameters?: Record<string, ProcessorParameterDescriptor>
}

/** @internal Frames per processor block (the engine's `jsproc::node::BLOCK`). */
export const PROCESSOR_BLOCK = 128

/** @internal Default latency in blocks (the engine's `DEFAULT_LATENCY_BLOCKS`). */
export const DEFAULT_LATENCY_BLOCKS = 2

/** @internal Header words the host reads (see the engine's `jsproc::memory`). */
const STATE = 6
const UNDERRUNS = 9
const STATE_BYPASSED = 1
const STATE_GONE = 2
const DONE = 8

/** @internal The fewest latency blocks that leave the worker one device period at `bufferSize`. */
export function minLatencyBlocks(bufferSize: number): number {
  return Math.ceil(bufferSize / PROCESSOR_BLOCK) + (bufferSize % PROCESSOR_BLOCK === 0 ? 0 : 1)
}

interface Instance {
  key: string
  id: number
  module: string
  token: number
  header: Int32Array
  parameters: Array<{ name: string; default: number; min?: number; max?: number }>
  latencyBlocks: number
  error?: string
  errorSeen?: Promise<void>
  errorArrived?: () => void
}

/** @internal How long `close` lets the worker finish before it terminates it. */
const CLOSE_TIMEOUT_MS = 2000

/** @internal How long the JavaScript thread waits for the worker to load a module. */
const ANSWER_TIMEOUT_MS = 30_000

/** @internal A node's module, for messages: its file name. */
export function moduleName(url: string): string {
  return path.basename(url)
}

/**
 * @internal Runs the processors of one engine or offline render on a
 * `worker_threads` worker: loads their modules, makes each instance's
 * shared ring, registers it with the native side, reports errors and
 * underruns, and keeps an instance (and its state) across graph swaps that
 * keep its node (same id, module, channels and options).
 */
export class ProcessorHost {
  readonly #worker: Worker
  readonly #port: MessagePort
  readonly #reply: Int32Array
  readonly #door: Int32Array
  readonly #sampleRate: number
  readonly #channels: number
  readonly #minBlocks: number
  #instances = new Map<string, Instance>()
  #retiredUnderruns = 0
  #closed = false
  #exited: Promise<void>
  #onError: (e: Error) => void

  constructor(o: { sampleRate: number; channels: number; minLatencyBlocks: number; onError: (e: Error) => void }) {
    this.#sampleRate = o.sampleRate
    this.#channels = o.channels
    this.#minBlocks = o.minLatencyBlocks
    this.#onError = o.onError
    this.#reply = new Int32Array(new SharedArrayBuffer(8))
    this.#door = new Int32Array(new SharedArrayBuffer(8))
    const { MessageChannel, Worker } = workerThreads()
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    this.#worker = new Worker(path.join(__dirname, 'processor-worker.js'), {
      name: 'ferrite-processors',
      workerData: { port: port2, reply: this.#reply, door: this.#door, sampleRate: o.sampleRate },
      transferList: [port2],
    })
    this.#worker.unref()
    this.#worker.on('message', (m: { type: string; key: string; message: string }) => {
      if (m.type !== 'error') return
      const inst = this.#instances.get(m.key)
      if (inst) {
        inst.error = m.message
        inst.errorArrived?.()
      }
      this.#onError(new Error(m.message))
    })
    this.#exited = new Promise((resolve) => {
      this.#worker.on('exit', () => {
        this.#closed = true
        for (const inst of this.#instances.values()) this.#gone(inst)
        resolve()
      })
      this.#worker.on('error', (e) => this.#onError(new Error(`processor worker: ${e instanceof Error ? e.message : String(e)}`)))
    })
  }

  /** Marks an instance's worker as gone and wakes a render waiting on it. */
  #gone(inst: Instance): void {
    Atomics.store(inst.header, STATE, STATE_GONE)
    Atomics.add(inst.header, DONE, 1)
    native.processorWake(inst.header, DONE)
  }

  #ring(): void {
    Atomics.add(this.#door, 0, 1)
    native.processorWake(this.#door, 0)
  }

  /** Sends `msg` and waits (blocking this thread, not the audio thread) for the worker's answer. */
  #call(msg: Record<string, unknown>): any {
    if (this.#closed) throw new Error('processor worker: it has stopped')
    const seen = Atomics.load(this.#reply, 0)
    this.#port.postMessage(msg)
    this.#ring()
    const until = Date.now() + ANSWER_TIMEOUT_MS
    for (;;) {
      const r = workerThreads().receiveMessageOnPort(this.#port)
      if (r) return r.message
      const left = until - Date.now()
      if (left <= 0) throw new Error(`processor worker: no answer to '${String(msg.type)}' within ${ANSWER_TIMEOUT_MS / 1000} s`)
      Atomics.wait(this.#reply, 0, seen, Math.min(left, 50))
    }
  }

  /**
   * Adds the worker's facts to the serialized graph `doc` (each processor
   * node's `parameters`, `memory` and `latencyBlocks`), creating the
   * instances it needs. Returns a commit (the graph was accepted: drop
   * instances it no longer has) and a rollback (it was refused).
   */
  prepare(doc: { nodes: Array<{ id: number; type: string; options?: Record<string, unknown> }> }): { commit(): void; rollback(): void } {
    const created: Instance[] = []
    const used = new Set<string>()
    try {
      for (const node of doc.nodes) {
        if (node.type !== 'processor') continue
        const o = node.options ?? {}
        const module = String(o.module)
        const channels = o.channels === undefined ? this.#channels : Number(o.channels)
        const latencyBlocks = Math.max(o.latencyBlocks === undefined ? DEFAULT_LATENCY_BLOCKS : Number(o.latencyBlocks), this.#minBlocks)
        const key = `${node.id}\u0000${module}\u0000${channels}\u0000${latencyBlocks}\u0000${JSON.stringify(o.options ?? null)}`
        let inst = this.#instances.get(key)
        if (!inst) {
          const label = `processor #${node.id}`
          const r = this.#call({ type: 'create', key, id: node.id, module, channels, latencyBlocks, options: o.options ?? null })
          if (!r.ok) throw new (r.kind === 'TypeError' ? TypeError : Error)(`${label}: ${r.error}`)
          const token = callNative(() => native.registerProcessorMemory(new Float32Array(r.sab), this.#door))
          inst = { key, id: node.id, module, token, header: new Int32Array(r.sab), parameters: r.parameters, latencyBlocks }
          this.#instances.set(key, inst)
          created.push(inst)
        }
        used.add(key)
        node.options = { ...o, parameters: inst.parameters, memory: inst.token, latencyBlocks: inst.latencyBlocks }
      }
    } catch (e) {
      for (const inst of created) this.#dispose(inst)
      throw e
    }
    return {
      commit: () => {
        const stale = [...this.#instances.values()].filter((i) => !used.has(i.key))
        if (stale.length === 0) return
        // The audio thread may play the previous graph for a callback (and a
        // crossfade) more: the worker serves it a little longer.
        for (const inst of stale) this.#instances.delete(inst.key)
        setTimeout(() => {
          for (const inst of stale) this.#dispose(inst, true)
        }, 500).unref()
      },
      rollback: () => {
        for (const inst of created) this.#dispose(inst)
      },
    }
  }

  #dispose(inst: Instance, removed = false): void {
    if (!removed) this.#instances.delete(inst.key)
    this.#retiredUnderruns += Atomics.load(inst.header, UNDERRUNS) >>> 0
    native.unregisterProcessorMemory(inst.token)
    if (!this.#closed) {
      try {
        this.#call({ type: 'dispose', key: inst.key })
      } catch {
        // The worker is gone: nothing to dispose.
      }
    }
  }

  /** Blocks of processor output that played as silence because the worker was late. */
  underruns(): number {
    let n = this.#retiredUnderruns
    for (const inst of this.#instances.values()) n += Atomics.load(inst.header, UNDERRUNS) >>> 0
    return n
  }

  /** The first error a processor threw (an offline render rejects with it), once its message is in. */
  async firstError(): Promise<Error | undefined> {
    for (const inst of this.#instances.values()) {
      if (Atomics.load(inst.header, STATE) !== STATE_BYPASSED) continue
      if (inst.error === undefined) {
        await new Promise<void>((resolve) => {
          inst.errorArrived = resolve
          setTimeout(resolve, 2000).unref()
        })
      }
      return new Error(inst.error ?? `processor #${inst.id} (${moduleName(inst.module)}): process() threw`)
    }
    return undefined
  }

  /** Stops the worker (after the native side stopped using the rings). */
  async close(): Promise<void> {
    if (!this.#closed) {
      for (const inst of this.#instances.values()) native.unregisterProcessorMemory(inst.token)
      this.#port.postMessage({ type: 'close' })
      this.#ring()
      this.#closed = true
    }
    // Unreferenced while it runs (it must not keep the process alive); waited for here,
    // and stopped if a process() never returns.
    this.#worker.ref()
    const stuck = setTimeout(() => void this.#worker.terminate(), CLOSE_TIMEOUT_MS)
    await this.#exited
    clearTimeout(stuck)
    this.#port.close()
  }
}
