// Automation: breakpoint lanes that drive node parameters sample-accurately.
import { checkFrames, checkNumber, describe } from './validate'

/** How an automation point moves to the next one. */
export type Curve = 'linear' | 'step' | 'exponential' | 'scurve'

/** One automation breakpoint. */
export interface AutomationPoint {
  /** Transport frame of the point (a non-negative integer). */
  frame: number
  /** Parameter value from this frame. */
  value: number
  /** How the value moves to the next point (default `'linear'`). */
  curve?: Curve
}

const CURVES: readonly Curve[] = ['linear', 'step', 'exponential', 'scurve']

/**
 * A breakpoint automation lane, evaluated sample-accurately by the engine.
 *
 * ```ts
 * const fade = new AutomationLane().add(0, 0).add(48000, 1, 'scurve')
 * fade.valueAt(24000) // 0.5
 * ```
 */
export class AutomationLane {
  #points: Required<AutomationPoint>[] = []
  /** False when a point was added before the last one; {@link AutomationLane.#sortedPoints} sorts then. */
  #sorted = true

  #sortedPoints(): Required<AutomationPoint>[] {
    if (!this.#sorted) {
      this.#points.sort((a, b) => a.frame - b.frame)
      this.#sorted = true
    }
    return this.#points
  }

  constructor(points?: AutomationPoint[]) {
    if (points === undefined) return
    if (!Array.isArray(points)) throw new TypeError(`AutomationLane: points must be an array, got ${describe(points)}`)
    for (const p of points) {
      if (typeof p !== 'object' || p === null) throw new TypeError(`AutomationLane: each point must be an object, got ${describe(p)}`)
      this.add(p.frame, p.value, p.curve)
    }
  }

  /** Adds a point; points at the same frame keep their insertion order (the later one wins from that frame). */
  add(frame: number, value: number, curve: Curve = 'linear'): this {
    checkFrames('AutomationLane.add', 'frame', frame)
    checkNumber('AutomationLane.add', 'value', value)
    if (!CURVES.includes(curve)) {
      throw new TypeError(`AutomationLane.add: curve ${describe(curve)} is not one of ${CURVES.join(', ')}`)
    }
    // Appended, and sorted (stable: ties keep their insertion order) when next
    // read, so n points in any order cost n·log n, not n² of insertions.
    const pts = this.#points
    if (pts.length && frame < pts[pts.length - 1].frame) this.#sorted = false
    pts.push({ frame, value, curve })
    return this
  }

  /** The points, sorted by frame. */
  get points(): ReadonlyArray<Readonly<Required<AutomationPoint>>> {
    return this.#sortedPoints().map((p) => ({ ...p }))
  }

  /**
   * The value at transport frame `frame`: the same function the engine evaluates.
   * Before the first point: the first value; from the last point on: the last value.
   */
  valueAt(frame: number): number {
    checkNumber('AutomationLane.valueAt', 'frame', frame)
    const pts = this.#sortedPoints()
    if (pts.length === 0) return 0
    // Last point whose frame is <= `frame`.
    let lo = 0
    let hi = pts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (pts[mid].frame <= frame) lo = mid + 1
      else hi = mid
    }
    if (lo === 0) return pts[0].value
    const p1 = pts[lo - 1]
    const p2 = pts[lo]
    if (p2 === undefined) return p1.value
    const v1 = p1.value
    const v2 = p2.value
    const t = (frame - p1.frame) / (p2.frame - p1.frame)
    switch (p1.curve) {
      case 'step':
        return v1
      case 'exponential':
        return v1 + (v2 - v1) * (t * t)
      case 'scurve':
        return v1 + (v2 - v1) * (t * t * (3 - 2 * t))
      default:
        return v1 + (v2 - v1) * t
    }
  }

  /** The serialized points. */
  toJSON(): Required<AutomationPoint>[] {
    return this.#sortedPoints().map((p) => ({ ...p }))
  }
}
