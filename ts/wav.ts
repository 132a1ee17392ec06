// WAV files: writeWav and readWav.
import * as native from '../load-binding'
import { callNative } from './errors'
import { checkChannels, checkKeys, checkNumber, checkObject, checkSampleRate, describe } from './validate'

/** Writes planar channels to a WAV file: 16- or 24-bit PCM, or 32-bit float. */
export function writeWav(path: string, channels: Float32Array[], sampleRate: number, o?: { bitDepth?: 16 | 24 | 32 }): void {
  if (typeof path !== 'string') throw new TypeError(`writeWav: path must be a string, got ${describe(path)}`)
  checkChannels('writeWav', 'channels', channels)
  checkSampleRate('writeWav', sampleRate)
  const opts = checkObject('writeWav', o, true)
  checkKeys('writeWav', opts, ['bitDepth'])
  const bitDepth = opts.bitDepth === undefined ? 16 : checkNumber('writeWav', 'bitDepth', opts.bitDepth)
  if (bitDepth !== 16 && bitDepth !== 24 && bitDepth !== 32) {
    throw new RangeError(`writeWav: bitDepth = ${bitDepth} must be 16, 24 or 32 (float)`)
  }
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
