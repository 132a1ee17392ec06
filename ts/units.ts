// Units: conversions between seconds and frames.
import { checkFrames, checkNumber, checkSampleRate } from './validate'

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
