/** How an automation point moves to the next one. */
export type Curve = 'linear' | 'step' | 'exponential' | 'scurve';
/** One automation breakpoint. */
export interface AutomationPoint {
    /** Transport frame of the point (a non-negative integer). */
    frame: number;
    /** Parameter value from this frame. */
    value: number;
    /** How the value moves to the next point (default `'linear'`). */
    curve?: Curve;
}
/**
 * A breakpoint automation lane, evaluated sample-accurately by the engine.
 *
 * ```ts
 * const fade = new AutomationLane().add(0, 0).add(48000, 1, 'scurve')
 * fade.valueAt(24000) // 0.5
 * ```
 */
export declare class AutomationLane {
    #private;
    constructor(points?: AutomationPoint[]);
    /** Adds a point; points at the same frame keep their insertion order (the later one wins from that frame). */
    add(frame: number, value: number, curve?: Curve): this;
    /** The points, sorted by frame. */
    get points(): ReadonlyArray<Readonly<Required<AutomationPoint>>>;
    /**
     * The value at transport frame `frame`: the same function the engine evaluates.
     * Before the first point: the first value; from the last point on: the last value.
     */
    valueAt(frame: number): number;
    /** The serialized points. */
    toJSON(): Required<AutomationPoint>[];
}
