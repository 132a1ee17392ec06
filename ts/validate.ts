// Argument validation: the checks every public function runs on its input,
// and `describe`, which names a bad value in their messages.

/** @internal A value as error messages name it: a string quoted, a number, boolean, `null` or `undefined` as it is, else `an array` / `a <type>`. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  return `a ${typeof v}`
}

/** @internal `v` if it is a finite number; else a `TypeError` (not a number) or `RangeError` (NaN, infinite). */
export function checkNumber(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: '${name}' must be a number, got ${describe(v)}`)
  if (!Number.isFinite(v)) throw new RangeError(`${where}: '${name}' = ${v} must be a finite number`)
  return v
}

/** @internal `v` if it is a whole number of frames (0 to `Number.MAX_SAFE_INTEGER`). */
export function checkFrames(where: string, name: string, v: unknown): number {
  checkNumber(where, name, v)
  const n = v as number
  if (n < 0 || !Number.isInteger(n) || n > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`${where}: '${name}' = ${n} must be a non-negative whole number of frames`)
  }
  return n
}

/** @internal `sampleRate` if it is a number in [1000, 1536000]. */
export function checkSampleRate(where: string, sampleRate: unknown): number {
  checkNumber(where, 'sampleRate', sampleRate)
  const sr = sampleRate as number
  if (sr < 1000 || sr > 1_536_000) throw new RangeError(`${where}: sampleRate = ${sr} is out of range [1000, 1536000]`)
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
  v.forEach((c, i) => {
    if (!(c instanceof Float32Array)) throw new TypeError(`${where}: ${name}[${i}] must be a Float32Array, got ${describe(c)}`)
  })
  const len = (v[0] as Float32Array).length
  v.forEach((c: Float32Array, i) => {
    if (c.length !== len) throw new RangeError(`${where}: ${name}[${i}] has ${c.length} frames but ${name}[0] has ${len}`)
  })
  return v as Float32Array[]
}
