// Files: probing, decoding, resampling and analysing any common audio format,
// each off the JavaScript thread.
import * as native from '../load-binding'
import { callNativeAsync } from './errors'
import type { Graph } from './graph'
import { readingFromNative, type MeterReading } from './meters'
import type * as Offline from './offline'
import { rmSync } from 'node:fs'
import { checkChannels, checkFrames, checkKeys, checkNumber, checkObject, checkSampleRate, checkThreads, describe, checkMemoryBudget } from './validate'

/**
 * The graph and render modules, loaded on the first render to a file: a
 * program that only probes, decodes or measures files (the CLI's `info` and
 * `loudness`) starts without them (about half of the package's load time).
 */
function renderModules(): { Graph: typeof Graph; withProcessors: typeof Offline.withProcessors } {
  const { Graph } = require('./graph') as typeof import('./graph')
  const { withProcessors } = require('./offline') as typeof Offline
  return { Graph, withProcessors }
}

/** What a file holds, from its headers. */
export interface AudioFileInfo {
  /** The path as given. */
  path: string
  /** Container: `'wav' | 'aiff' | 'flac' | 'mp3' | 'ogg' | 'mp4' | 'caf'` (`'adts'` for raw AAC). */
  format: string
  /** Codec: `'pcm' | 'flac' | 'mp3' | 'vorbis' | 'aac' | 'alac' | ...`. */
  codec: string
  /** Frames per second. */
  sampleRate: number
  /** Channel count. */
  channels: number
  /** Exact for PCM and FLAC; for lossy codecs the decoded count with the encoder's delay and padding removed. */
  frames: number
  /** Bits per sample, where the codec has one (PCM, FLAC, ALAC). */
  bitDepth?: number
}

/** A file's meter reading over its whole length (see {@link analyzeFile}). */
export interface FileAnalysis extends MeterReading {
  /** What the file holds. */
  info: AudioFileInfo
}

/** Options of {@link decodeFile}. */
export interface DecodeFileOptions {
  /** Resample to this rate (band-limited; default: the file's rate). */
  sampleRate?: number
  /** Convert to this many channels (default: the file's). A mono file feeds every channel; to mono, the mean; 5.1 to stereo by ITU-R BS.775. */
  channels?: number
  /** First frame to return, at the output rate. */
  startFrame?: number
  /** Frames to return at most, at the output rate (default: to the end). */
  frames?: number
}

function checkPath(where: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${where}: path must be a non-empty string, got ${describe(path)}`)
  return path
}

/** @internal A native file description as an {@link AudioFileInfo}. */
export function infoFromNative(i: native.NativeFileInfo): AudioFileInfo {
  const info: AudioFileInfo = { path: i.path, format: i.format, codec: i.codec, sampleRate: i.sampleRate, channels: i.channels, frames: i.frames }
  if (i.bitDepth !== undefined && i.bitDepth !== null) info.bitDepth = i.bitDepth
  return info
}

/** @internal A native analysis as a {@link FileAnalysis}. */
export function analysisFromNative(a: native.NativeFileAnalysis): FileAnalysis {
  return { ...readingFromNative(a.reading), info: infoFromNative(a.info) }
}

/**
 * Reads a file's headers: container, codec, rate, channels, length.
 * Any common format: WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC and ALAC in MP4/M4A, CAF.
 *
 * ```ts
 * const info = await probeFile('take.flac') // { format: 'flac', codec: 'flac', sampleRate: 44100, channels: 2, frames: ..., bitDepth: 24 }
 * ```
 */
export async function probeFile(path: string): Promise<AudioFileInfo> {
  checkPath('probeFile', path)
  return infoFromNative(await callNativeAsync(() => native.probeFileNative(path)))
}

/**
 * Decodes a file (or a slice of it) into planar `Float32Array` channels,
 * converted to the channels and resampled to the rate asked for.
 *
 * ```ts
 * const { sampleRate, channels } = await decodeFile('song.mp3', { sampleRate: 48000 })
 * ```
 */
export async function decodeFile(path: string, o?: DecodeFileOptions): Promise<{ sampleRate: number; channels: Float32Array[]; info: AudioFileInfo }> {
  checkPath('decodeFile', path)
  const opts = checkObject('decodeFile', o, true)
  checkKeys('decodeFile', opts, ['sampleRate', 'channels', 'startFrame', 'frames'])
  const sampleRate = opts.sampleRate === undefined ? undefined : checkSampleRate('decodeFile', opts.sampleRate)
  const channels = opts.channels === undefined ? undefined : checkNumber('decodeFile', 'channels', opts.channels)
  const startFrame = opts.startFrame === undefined ? undefined : checkFrames('decodeFile', 'startFrame', opts.startFrame)
  const frames = opts.frames === undefined ? undefined : checkFrames('decodeFile', 'frames', opts.frames)
  const r = await callNativeAsync(() => native.decodeFileNative(path, sampleRate, channels, startFrame, frames))
  return { sampleRate: r.sampleRate, channels: r.channels, info: infoFromNative(r.info) }
}

/**
 * Resamples planar channels from `from` to `to` Hz, band-limited (a 997 Hz
 * tone from 44.1 to 48 kHz keeps its level within 0.01 dB with THD+N below
 * -120 dB; content above the new Nyquist frequency is removed, not folded).
 * Output frame `k` is the input at time `k / to`; `n` frames become `ceil(n·to/from)`.
 */
export async function resample(channels: Float32Array[], from: number, to: number): Promise<Float32Array[]> {
  checkChannels('resample', 'channels', channels)
  checkSampleRate('resample', from)
  checkSampleRate('resample', to)
  return callNativeAsync(() => native.resampleNative(channels, from, to))
}

/** Options of {@link analyzeFile}. */
export interface AnalyzeFileOptions {
  /**
   * Threads that measure (1 to 64); default every core. A file of at least a
   * minute is cut in time into segments of at least 30 s, measured at the
   * same time and joined: peaks and true peak are those of one meter bit for
   * bit, loudness and RMS within 1e-9 dB (AAC within 0.001: its decoder's
   * noise substitution draws other noise when decoding starts at a cut).
   * Shorter files, and `threads: 1`, decode on one thread and measure on
   * another.
   */
  threads?: number
}

/**
 * Measures a file as a `meter` node would, streaming it in constant memory:
 * peaks, RMS and true peak over the whole file, integrated loudness and
 * loudness range (EBU R128), momentary and short-term loudness at its end.
 *
 * ```ts
 * const a = await analyzeFile('episode.mp3')
 * console.log(a.integratedLufs, a.truePeakDb, a.info.codec)
 * ```
 */
export async function analyzeFile(path: string, options?: AnalyzeFileOptions): Promise<FileAnalysis> {
  checkPath('analyzeFile', path)
  const o = checkObject('analyzeFile', options, true)
  checkKeys('analyzeFile', o, ['threads'])
  const threads = checkThreads('analyzeFile', o.threads)
  return analysisFromNative(await callNativeAsync(() => native.analyzeFileNative(path, threads)))
}

/** Options of {@link renderToFile}. */
export interface RenderToFileOptions {
  /** The file to write; the format comes from the extension: `.wav` or `.flac`. */
  path: string
  /** Frames per second. */
  sampleRate: number
  /** Frames to render. */
  frames: number
  /** Default 2. */
  channels?: number
  /** 16 or 24-bit PCM, or 32 = float (WAV only); default 24. */
  bitDepth?: 16 | 24 | 32
  /** Fed to `graph.input`: a buffer (1 channel or `channels`), or a file path streamed and resampled to `sampleRate`. */
  input?: Float32Array[] | string
  /** Default 128; does not change the result. */
  blockSize?: number
  /** Threads that render (1 to 64); default every core. Does not change the result (as `renderOffline`'s `threads`). */
  threads?: number
  /** Called as the render goes (about 10 times a second, and at the end). */
  onProgress?: (framesDone: number, frames: number) => void
  /** Aborting rejects the render and removes the partial file. */
  signal?: AbortSignal
  /** Most bytes the compiled graph may hold: default 2 GiB (see `renderOffline`'s `memoryBudget`). */
  memoryBudget?: number
}

/**
 * Renders `graph` offline straight into a WAV or FLAC file, in constant memory
 * (a writer thread encodes chunk by chunk). The file is written under a
 * temporary name beside `path` and renamed when complete: a failed or aborted
 * render leaves nothing under `path`.
 *
 * ```ts
 * await renderToFile(g, { path: 'mix.flac', sampleRate: 48000, frames: 48000 * 1800, onProgress: (d, n) => console.log(d / n) })
 * ```
 */
export async function renderToFile(
  graph: Graph,
  o: RenderToFileOptions,
): Promise<{ frames: number; latencyFrames: number; meters: Record<string, MeterReading> }> {
  const { Graph, withProcessors } = renderModules()
  if (!(graph instanceof Graph)) throw new TypeError(`renderToFile: graph must be a Graph, got ${describe(graph)}`)
  const opts = checkObject('renderToFile', o, false)
  checkKeys('renderToFile', opts, ['path', 'sampleRate', 'frames', 'channels', 'bitDepth', 'input', 'blockSize', 'threads', 'onProgress', 'signal', 'memoryBudget'])
  const memoryBudget = checkMemoryBudget('renderToFile', opts)
  const path = checkPath('renderToFile', opts.path)
  const sampleRate = checkSampleRate('renderToFile', opts.sampleRate)
  const frames = checkFrames('renderToFile', 'frames', opts.frames)
  const channels = opts.channels === undefined ? 2 : checkNumber('renderToFile', 'channels', opts.channels)
  const blockSize = opts.blockSize === undefined ? 128 : checkNumber('renderToFile', 'blockSize', opts.blockSize)
  const bitDepth = opts.bitDepth === undefined ? 24 : checkNumber('renderToFile', 'bitDepth', opts.bitDepth)
  if (bitDepth !== 16 && bitDepth !== 24 && bitDepth !== 32) throw new RangeError(`renderToFile: bitDepth = ${bitDepth} must be 16, 24 or 32 (float, WAV only)`)
  let input: Float32Array[] = []
  let inputPath: string | undefined
  if (typeof opts.input === 'string') inputPath = checkPath('renderToFile', opts.input)
  else if (opts.input !== undefined) input = checkChannels('renderToFile', 'input', opts.input)
  const threads = checkThreads('renderToFile', opts.threads)
  const onProgress = opts.onProgress
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`renderToFile: onProgress must be a function, got ${describe(onProgress)}`)
  const signal = opts.signal as AbortSignal | undefined
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`renderToFile: signal must be an AbortSignal, got ${describe(signal)}`)
  if (signal?.aborted) throw new Error(`renderToFile: ${path}: the render was aborted`)
  const { json, buffers } = graph.serialize()
  const control = new native.RenderControl()
  const onAbort = () => control.cancel()
  signal?.addEventListener('abort', onAbort)
  let last = -1
  const tick = () => {
    const done = control.progress()
    if (onProgress && done !== last) {
      last = done
      onProgress(done, frames)
    }
  }
  const timer = onProgress ? setInterval(tick, 100) : undefined
  try {
    const r = await withProcessors(
      graph,
      json,
      sampleRate,
      channels,
      (j) => callNativeAsync(() => native.renderToFileNative(j, buffers, path, sampleRate, frames, channels, blockSize, bitDepth, input, inputPath, control, memoryBudget, threads)),
      // A processor threw: the file is not the graph's render.
      () => rmSync(path, { force: true }),
    )
    if (onProgress && last !== frames) onProgress(frames, frames)
    const meters: Record<string, MeterReading> = {}
    for (const [k, v] of Object.entries(r.meters)) meters[k] = readingFromNative(v)
    return { frames: r.frames, latencyFrames: r.latencyFrames, meters }
  } finally {
    if (timer) clearInterval(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

/** Options of {@link normalizeFile}. */
export interface NormalizeOptions {
  /** Integrated loudness to reach, LUFS (the result lands within 0.1 LU). */
  targetLufs: number
  /** True-peak ceiling, dBTP, never exceeded; default -1. */
  truePeakDb?: number
  /** Output sample format: 16, 24 (default) or 32 (float, WAV only). */
  bitDepth?: 16 | 24 | 32
  /** Output rate (default: the input's), resampled band-limited. */
  sampleRate?: number
}

/**
 * Normalises a file's integrated loudness (EBU R128) to `targetLufs` under a
 * true-peak ceiling, as ffmpeg's loudnorm filter does, exactly: measure, apply
 * the gain, true-peak limit where the gain would cross the ceiling, measure
 * again and correct, write (temporary name, then rename) and measure what was
 * written.
 *
 * ```ts
 * const { before, after, gainDb, limited } = await normalizeFile('episode.mp3', 'episode.wav', { targetLufs: -16 })
 * ```
 */
export async function normalizeFile(
  input: string,
  output: string,
  o: NormalizeOptions,
): Promise<{ before: FileAnalysis; after: FileAnalysis; gainDb: number; limited: boolean }> {
  checkPath('normalizeFile', input)
  checkPath('normalizeFile', output)
  const opts = checkObject('normalizeFile', o, false)
  checkKeys('normalizeFile', opts, ['targetLufs', 'truePeakDb', 'bitDepth', 'sampleRate'])
  const target = checkNumber('normalizeFile', 'targetLufs', opts.targetLufs)
  const tp = opts.truePeakDb === undefined ? -1 : checkNumber('normalizeFile', 'truePeakDb', opts.truePeakDb)
  const bitDepth = opts.bitDepth === undefined ? 24 : checkNumber('normalizeFile', 'bitDepth', opts.bitDepth)
  const sampleRate = opts.sampleRate === undefined ? undefined : checkSampleRate('normalizeFile', opts.sampleRate)
  const r = await callNativeAsync(() => native.normalizeFileNative(input, output, target, tp, bitDepth, sampleRate))
  return { before: analysisFromNative(r.before), after: analysisFromNative(r.after), gainDb: r.gainDb, limited: r.limited }
}
