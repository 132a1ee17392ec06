// Files: probing, decoding, resampling and analysing any common audio format,
// each off the JavaScript thread.
import * as native from '../load-binding'
import { callNativeAsync } from './errors'
import { readingFromNative, type MeterReading } from './meters'
import { checkChannels, checkFrames, checkKeys, checkNumber, checkObject, checkSampleRate, describe } from './validate'

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
export async function analyzeFile(path: string): Promise<FileAnalysis> {
  checkPath('analyzeFile', path)
  return analysisFromNative(await callNativeAsync(() => native.analyzeFileNative(path)))
}
