// Argument validation: the checks every public function runs on its input,
// and `describe`, which names a bad value in their messages.

/** @internal A value as error messages name it: a string quoted, a number, boolean, `null` or `undefined` as it is, else `an array` / `an object` / `a <type>`. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

/** @internal `v` if it is a finite number; else a `TypeError` (not a number) or `RangeError` (NaN, infinite). */
export function checkNumber(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: '${name}' must be a number, got ${describe(v)}`)
  if (!Number.isFinite(v)) throw new RangeError(`${where}: '${name}' = ${v} must be a finite number`)
  return v
}

/**
 * @internal The largest frame accepted anywhere: 2^52. Frames are exact in a
 * double up to 2^53; the headroom keeps a transport that starts at the largest
 * frame exact while it runs (2^52 frames are 93 years at 1.536 MHz).
 */
export const MAX_FRAME = 2 ** 52

/** @internal `v` if it is a whole number of frames (0 to {@link MAX_FRAME}). */
export function checkFrames(where: string, name: string, v: unknown): number {
  checkNumber(where, name, v)
  const n = v as number
  if (n < 0 || !Number.isInteger(n)) {
    throw new RangeError(`${where}: '${name}' = ${n} must be a non-negative whole number of frames`)
  }
  checkFrameLimit(where, name, n)
  return n
}

/** @internal The default memory budget of a compiled graph, in bytes: 2 GiB (the engine's `compile::budget`). */
export const DEFAULT_MEMORY_BUDGET = 2 ** 31

/** @internal `opts.memoryBudget` if given: a whole number of bytes, at least 1 MiB (a RangeError names it otherwise). */
export function checkMemoryBudget(where: string, opts: Record<string, unknown>): number | undefined {
  const v = opts.memoryBudget
  if (v === undefined) return undefined
  checkNumber(where, 'memoryBudget', v)
  const n = v as number
  if (!Number.isInteger(n) || n < 2 ** 20 || n > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`${where}: 'memoryBudget' = ${n} must be a whole number of bytes from 1048576 (1 MiB) to 2^53 - 1`)
  }
  return n
}

/** @internal Refuses a frame beyond {@link MAX_FRAME}. */
export function checkFrameLimit(where: string, name: string, n: number): void {
  if (n > MAX_FRAME) {
    throw new RangeError(`${where}: '${name}' = ${n} is beyond the largest exact frame, 2^52 = ${MAX_FRAME}`)
  }
}

/**
 * @internal `sampleRate` if it is a whole number in [1000, 1536000]: the same
 * rule for renders, files, resampling and unit conversions (file formats
 * and devices only know whole rates).
 */
export function checkSampleRate(where: string, sampleRate: unknown): number {
  checkNumber(where, 'sampleRate', sampleRate)
  const sr = sampleRate as number
  if (sr < 1000 || sr > 1_536_000) throw new RangeError(`${where}: sampleRate = ${sr} is out of range [1000, 1536000]`)
  if (!Number.isInteger(sr)) throw new RangeError(`${where}: sampleRate = ${sr} must be a whole number of Hz`)
  return sr
}

/** @internal `o` if it is an options object (not `null`, not an array); `{}` for `undefined` when `allowUndefined`. */
export function checkObject(where: string, o: unknown, allowUndefined: boolean): Record<string, unknown> {
  if (o === undefined && allowUndefined) return {}
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new TypeError(`${where}: options must be an object, got ${describe(o)}`)
  }
  return o as Record<string, unknown>
}

/** @internal Refuses any key of `o` that is not in `known`. */
export function checkKeys(where: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new TypeError(`${where}: unknown parameter '${k}' (known: ${known.length ? known.join(', ') : 'none'})`)
    }
  }
}

/** @internal `v` if it is a non-empty array of `Float32Array` channels of one length. */
export function checkChannels(where: string, name: string, v: unknown): Float32Array[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new TypeError(`${where}: '${name}' must be a non-empty array of Float32Array channels, got ${describe(v)}`)
  }
  // Index loops, not forEach: a hole in a sparse array is named, not skipped.
  for (let i = 0; i < v.length; i++) {
    if (!(i in v)) throw new TypeError(`${where}: ${name}[${i}] is missing (a hole in a sparse array); each channel must be a Float32Array`)
    const c: unknown = v[i]
    if (!(c instanceof Float32Array)) throw new TypeError(`${where}: ${name}[${i}] must be a Float32Array, got ${describe(c)}`)
  }
  const len = (v[0] as Float32Array).length
  for (let i = 1; i < v.length; i++) {
    const c = v[i] as Float32Array
    if (c.length !== len) throw new RangeError(`${where}: ${name}[${i}] has ${c.length} frames but ${name}[0] has ${len}`)
  }
  return v as Float32Array[]
}

/** @internal Most threads a render takes (as the native side checks). */
export const MAX_THREADS = 64

/** @internal `threads` if it is a whole number in [1, {@link MAX_THREADS}]; `undefined` (every core) when not given. */
export function checkThreads(where: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  const n = checkNumber(where, 'threads', v)
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`${where}: threads = ${n} must be a whole number in [1, ${MAX_THREADS}]`)
  }
  return n
}
