// Offline rendering: renderOffline, off the JavaScript thread.
import * as native from '../load-binding'
import { callNativeAsync } from './errors'
import { Graph } from './graph'
import type { MeterReading } from './meters'
import { ProcessorHost } from './processor'
import { checkChannels, checkFrames, checkKeys, checkNumber, checkObject, checkSampleRate, checkThreads, describe, checkMemoryBudget } from './validate'

/** What {@link renderOffline} resolves to. */
export interface RenderResult {
  /** `channels` arrays of `frames` samples. */
  channels: Float32Array[]
  /** What `graph.latencyFrames(sampleRate)` reports. */
  latencyFrames: number
  /** One entry per meter node, keyed by its name (or id). */
  meters: Record<string, MeterReading>
  /** One entry per analyser node, keyed by its name (or id): the average power spectrum of the render. */
  spectra: Record<string, Spectrum>
}

/**
 * An analyser's spectrum: `fftSize / 2 + 1` bins, bin `k` at
 * `k · sampleRate / fftSize` Hz. A full-scale sine centred on a bin reads
 * 0 dB there (Web Audio's AnalyserNode reads the same sine 13.56 dB lower);
 * silence reads `-Infinity`.
 */
export interface Spectrum {
  /** Bin frequencies, Hz. */
  frequencies: Float32Array
  /** Bin magnitudes, dB. */
  magnitudesDb: Float32Array
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
  /**
   * Most bytes the compiled graph may hold (delay lines, convolution
   * partitions, buffers): default 2 GiB. A larger graph is refused with a
   * `RangeError` naming its largest nodes before anything is allocated.
   * Within the budget, memory the machine cannot give is a `RangeError`
   * naming the node (`delay #8: cannot allocate 512.0 MiB`).
   */
  memoryBudget?: number
  /**
   * Threads that render (1 to 64); default every core
   * (`os.availableParallelism()`). A graph whose mix sums independent tracks
   * or busses renders them on a pool shared by every render; a small graph
   * stays on one thread. Does not change the result: any count gives the
   * same samples, bit for bit.
   */
  threads?: number
}

/**
 * Renders `graph` offline, off the JavaScript thread, with the same render
 * core as the real-time engine.
 *
 * ```ts
 * const { channels, meters } = await renderOffline(g, { sampleRate: 48000, frames: 48000 })
 * const same = await renderOffline(g, { sampleRate: 48000, frames: 48000, threads: 1 }) // the same samples
 * ```
 */
export async function renderOffline(graph: Graph, o: RenderOptions): Promise<RenderResult> {
  if (!(graph instanceof Graph)) throw new TypeError(`renderOffline: graph must be a Graph, got ${describe(graph)}`)
  const opts = checkObject('renderOffline', o, false)
  checkKeys('renderOffline', opts, ['sampleRate', 'frames', 'channels', 'input', 'blockSize', 'memoryBudget', 'threads'])
  const memoryBudget = checkMemoryBudget('renderOffline', opts)
  const sampleRate = checkSampleRate('renderOffline', opts.sampleRate)
  const frames = checkFrames('renderOffline', 'frames', opts.frames)
  const channels = opts.channels === undefined ? 2 : checkNumber('renderOffline', 'channels', opts.channels)
  const blockSize = opts.blockSize === undefined ? 128 : checkNumber('renderOffline', 'blockSize', opts.blockSize)
  const input = opts.input === undefined ? [] : checkChannels('renderOffline', 'input', opts.input)
  const threads = checkThreads('renderOffline', opts.threads)
  const { json, buffers } = graph.serialize()
  const r = await withProcessors(graph, json, sampleRate, channels, (j) =>
    callNativeAsync(() => native.renderOfflineNative(j, buffers, sampleRate, frames, channels, blockSize, input, memoryBudget, threads)),
  )
  const spectra: Record<string, Spectrum> = {}
  for (const [k, v] of Object.entries(r.spectra)) spectra[k] = { frequencies: v.frequencies, magnitudesDb: v.magnitudesDb }
  return { channels: r.channels, latencyFrames: r.latencyFrames, meters: r.meters, spectra }
}

/**
 * @internal Runs `render` with the graph's processors loaded on a worker of
 * their own (when it has any): the render waits for them, and rejects with
 * the first error a processor threw.
 */
export async function withProcessors<T>(
  graph: Graph,
  json: string,
  sampleRate: number,
  channels: number,
  render: (json: string) => Promise<T>,
  onProcessorError?: () => void,
): Promise<T> {
  if (!graph.hasProcessors()) return render(json)
  // Offline, the latency is the graph's own: the render waits for the worker, whatever the block size.
  const host = new ProcessorHost({ sampleRate, channels, minLatencyBlocks: 1, onError: () => {} })
  try {
    const doc = JSON.parse(json)
    host.prepare(doc).commit()
    const r = await render(JSON.stringify(doc))
    const e = await host.firstError()
    if (e) {
      onProcessorError?.()
      throw e
    }
    return r
  } finally {
    await host.close()
  }
}
