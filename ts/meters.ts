// Meter readings: what renderOffline and Engine.onMeters deliver per meter node.
import type * as native from '../load-binding'

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

/** @internal A native meter reading as a {@link MeterReading}. */
export function readingFromNative(r: native.NativeMeterReading): MeterReading {
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
