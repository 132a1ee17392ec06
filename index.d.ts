/** Frames in `seconds` at `sampleRate`, rounded to the nearest frame. */
export declare function secondsToFrames(seconds: number, sampleRate: number): number;
/** Seconds spanned by `frames` at `sampleRate`. */
export declare function framesToSeconds(frames: number, sampleRate: number): number;
/** How an automation point moves to the next one. */
export type Curve = 'linear' | 'step' | 'exponential' | 'scurve';
/** One automation breakpoint. */
export interface AutomationPoint {
    frame: number;
    value: number;
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
/** The RBJ cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'allpass' | 'peaking' | 'lowshelf' | 'highshelf';
/** Oscillator waveforms; saw, square and triangle are band-limited. */
export type Waveform = 'sine' | 'saw' | 'square' | 'triangle';
/** A node of a {@link Graph}. */
export interface NodeRef {
    readonly id: number;
    readonly type: string;
}
/** One band of an {@link Graph.eq}. */
export interface EqBand {
    type: BiquadType;
    frequency: number;
    q?: number;
    gainDb?: number;
}
/** The serialized graph's format version. */
export declare const GRAPH_FORMAT_VERSION = 1;
/**
 * A processor graph: sources, effects and meters connected towards `output`.
 *
 * ```ts
 * const g = new Graph()
 * const osc = g.oscillator({ type: 'saw', frequency: 110 })
 * g.chain(osc, g.biquad({ type: 'lowpass', frequency: 800 }), g.gain({ gain: 0.5 }), g.output)
 * ```
 */
export declare class Graph {
    #private;
    /** The render's input (offline `input` channels, or the device input). */
    readonly input: NodeRef;
    /** The master output. */
    readonly output: NodeRef;
    constructor();
    /** A periodic source. `phase` is a phase offset in radians. */
    oscillator(o: {
        type?: Waveform;
        frequency: number;
        amplitude?: number;
        phase?: number;
    }): NodeRef;
    /** A constant signal (a DC offset, or a control value to sum). */
    constant(o: {
        value: number;
    }): NodeRef;
    /**
     * Plays a buffer on the timeline: transport frame `startFrame` plays the
     * buffer's first frame. A mono buffer feeds every channel.
     */
    player(o: {
        channels: Float32Array[];
        loop?: boolean;
        startFrame?: number;
    }): NodeRef;
    /** A linear gain (default 1). */
    gain(o?: {
        gain?: number;
    }): NodeRef;
    /** A constant-power stereo panner, -1 (left) .. 1 (right). */
    pan(o?: {
        pan?: number;
    }): NodeRef;
    /** An RBJ cookbook biquad filter (default `q` 1/√2, `gainDb` 0). */
    biquad(o: {
        type: BiquadType;
        frequency: number;
        q?: number;
        gainDb?: number;
    }): NodeRef;
    /** A series bank of biquads. Band parameters are named `bands[i].frequency`, `bands[i].q`, `bands[i].gainDb`. */
    eq(o: {
        bands: EqBand[];
    }): NodeRef;
    /** A musical delay (not latency: it is not compensated). `feedback` default 0, `mix` default 1 (wet only). */
    delay(o: {
        frames: number;
        feedback?: number;
        mix?: number;
        maxFrames?: number;
    }): NodeRef;
    /** A feed-forward compressor with a soft knee. */
    compressor(o?: {
        thresholdDb?: number;
        ratio?: number;
        attackMs?: number;
        releaseMs?: number;
        kneeDb?: number;
        makeupDb?: number;
    }): NodeRef;
    /** A lookahead peak limiter; reports latency = lookahead. */
    limiter(o?: {
        ceilingDb?: number;
        lookaheadMs?: number;
        releaseMs?: number;
    }): NodeRef;
    /** A convolution reverb or FIR (mono IR: every channel; else one IR channel per channel). */
    convolver(o: {
        ir: Float32Array[];
        normalize?: boolean;
    }): NodeRef;
    /** A pass-through meter: peak, RMS, true peak, LUFS, loudness range. Readings are keyed by `name` (or the id). */
    meter(o?: {
        name?: string;
    }): NodeRef;
    /** Connects `from`'s output into `to`'s input (several inputs are summed). */
    connect(from: NodeRef, to: NodeRef): this;
    /** Connects each node to the next. */
    chain(...nodes: NodeRef[]): this;
    /** Drives `node`'s numeric parameter `param` from `lane`, sample-accurately. */
    automate(node: NodeRef, param: string, lane: AutomationLane): this;
    /** The latency reported to the output at `sampleRate`, in frames. */
    latencyFrames(sampleRate: number): number;
    /** The serialized form sent to the engine (audio buffers inline as arrays of numbers). */
    toJSON(): object;
}
/** Loudness and level readings of one meter node. Silence reads `-Infinity`. */
export interface MeterReading {
    peakDb: number;
    rmsDb: number;
    truePeakDb: number;
    momentaryLufs: number;
    shortTermLufs: number;
    integratedLufs: number;
    loudnessRangeLu: number;
}
/** What {@link renderOffline} resolves to. */
export interface RenderResult {
    /** `channels` arrays of `frames` samples. */
    channels: Float32Array[];
    /** What `graph.latencyFrames(sampleRate)` reports. */
    latencyFrames: number;
    /** One entry per meter node, keyed by its name (or id). */
    meters: Record<string, MeterReading>;
}
/** Options of {@link renderOffline}. */
export interface RenderOptions {
    sampleRate: number;
    frames: number;
    /** Default 2. */
    channels?: number;
    /** Fed to `graph.input`: 1 channel (to every channel) or `channels`. */
    input?: Float32Array[];
    /** Default 128; does not change the result. */
    blockSize?: number;
}
/**
 * Renders `graph` offline, off the JavaScript thread, with the same render
 * core as the real-time engine.
 *
 * ```ts
 * const { channels, meters } = await renderOffline(g, { sampleRate: 48000, frames: 48000 })
 * ```
 */
export declare function renderOffline(graph: Graph, o: RenderOptions): Promise<RenderResult>;
/** Writes planar channels to a WAV file: 16- or 24-bit PCM, or 32-bit float. */
export declare function writeWav(path: string, channels: Float32Array[], sampleRate: number, o?: {
    bitDepth?: 16 | 24 | 32;
}): void;
/** Reads a WAV file into planar `Float32Array` channels. */
export declare function readWav(path: string): {
    sampleRate: number;
    channels: Float32Array[];
};
