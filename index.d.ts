/** Frames in `seconds` at `sampleRate`, rounded to the nearest frame. */
export declare function secondsToFrames(seconds: number, sampleRate: number): number;
/** Seconds spanned by `frames` at `sampleRate`. */
export declare function framesToSeconds(frames: number, sampleRate: number): number;
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
/** The RBJ cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'allpass' | 'peaking' | 'lowshelf' | 'highshelf';
/** Oscillator waveforms; saw, square and triangle are band-limited. */
export type Waveform = 'sine' | 'saw' | 'square' | 'triangle';
/** A node of a {@link Graph}. */
export interface NodeRef {
    /** Node id, unique within its graph (`input` is 0, `output` is 1). */
    readonly id: number;
    /** Node type (`'oscillator'`, `'biquad'`, ...). */
    readonly type: string;
}
/** One band of an {@link Graph.eq}. */
export interface EqBand {
    /** Filter type of the band. */
    type: BiquadType;
    /** Centre or corner frequency, Hz (below Nyquist). */
    frequency: number;
    /** Quality factor (default 1/√2). */
    q?: number;
    /** Gain for peaking and shelf bands, dB (default 0). */
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
    /**
     * Rebuilds a graph from its {@link Graph.toJSON} form (an object or a JSON
     * string), through the same validated builder methods, so a bad document
     * throws the usual `TypeError` / `RangeError`, prefixed with where it is
     * (`Graph.fromJSON: nodes[3] (biquad, id 3): ...`). Node ids are kept when
     * the nodes are listed in id order, as `toJSON` lists them.
     *
     * ```ts
     * const copy = Graph.fromJSON(JSON.stringify(graph))
     * ```
     */
    static fromJSON(json: object | string): Graph;
}
/** Loudness and level readings of one meter node. Silence reads `-Infinity`. */
export interface MeterReading {
    /** Sample peak, dBFS, max over channels (real time: since the previous delivery). */
    peakDb: number;
    /** RMS level, dBFS, max over channels (real time: since the previous delivery). */
    rmsDb: number;
    /** True peak per ITU-R BS.1770-4 Annex 2 (4× or more oversampled), dBTP. */
    truePeakDb: number;
    /** Momentary loudness (400 ms window ending now), LUFS. */
    momentaryLufs: number;
    /** Short-term loudness (3 s window ending now), LUFS. */
    shortTermLufs: number;
    /** Gated integrated loudness (EBU R128) since the start or `resetMeter`, LUFS. */
    integratedLufs: number;
    /** Loudness range (EBU Tech 3342) since the start or `resetMeter`, LU. */
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
    /** Frames per second (1000 to 1536000). */
    sampleRate: number;
    /** Frames to render. */
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
/** A decoded WAV file. */
export interface WavFile {
    /** Frames per second. */
    sampleRate: number;
    /** One `Float32Array` per channel, in [-1, 1] for integer formats. */
    channels: Float32Array[];
}
/** Reads a WAV file (16/24/32-bit PCM or 32-bit float) into planar `Float32Array` channels. */
export declare function readWav(path: string): WavFile;
/** What {@link Engine.stats} reports. */
export interface EngineStats {
    /** Audio callbacks so far. */
    callbacks: number;
    /** Frames rendered so far. */
    framesRendered: number;
    /** Backend underruns plus callbacks over budget (plus the null backend's late wake-ups). */
    xruns: number;
    /** Of `xruns`: callbacks that took longer than the buffer's duration. */
    overrunCallbacks: number;
    /** Of `xruns`: times the null backend's thread woke more than a period late. */
    lateWakeups: number;
    /** Of `xruns`: underruns reported by the device backend. */
    backendXruns: number;
    /** The buffer's duration, µs. */
    budgetUs: number;
    /** Median callback time, µs. */
    p50Us: number;
    /** 99th percentile callback time, µs. */
    p99Us: number;
    /** Longest callback, µs. */
    maxUs: number;
    /** Control messages that did not fit the queue. */
    droppedMessages: number;
    /** The audio thread got a real-time scheduling class. */
    realtimePriority: boolean;
    /** FTZ/DAZ is on in the audio callback. */
    denormalsFlushed: boolean;
    /** The kernel set chosen at run time. */
    simd: string;
}
/** Options of {@link Engine.open}. */
export interface EngineOpenOptions {
    /** Device id or name from {@link listDevices} (default: the default device). */
    device?: string;
    /** Requested sample rate; `engine.sampleRate` tells what was granted. */
    sampleRate?: number;
    /** Requested buffer size in frames (fixed when the device allows). */
    bufferSize?: number;
    /** Output channel count (default: the device's). */
    channels?: number;
    /** Capture device; the graph's `input` reads it. */
    inputDevice?: string;
}
/** Options of {@link Engine.setParam}. */
export interface SetParamOptions {
    /** Linear ramp length. Default: 0 with `atFrame`, else a 5 ms de-zipper ramp. */
    rampMs?: number;
    /** Transport frame where the change starts (sample-accurate). */
    atFrame?: number;
}
/**
 * A running real-time engine on a device, or on the clock-paced null backend.
 *
 * The transport starts playing when the engine opens; `stop()` pauses it (the
 * engine outputs silence and the position holds), `play()` resumes.
 *
 * ```ts
 * const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
 * engine.setGraph(graph)
 * const off = engine.onMeters((m) => console.log(m.master.peakDb), { fps: 30 })
 * // ...
 * off()
 * await engine.close()
 * ```
 */
export declare class Engine {
    #private;
    private constructor();
    /** Opens a device (default: the default output device). Rejects with a clear error when it does not exist. */
    static open(o?: EngineOpenOptions): Promise<Engine>;
    /** Opens the null backend: no device, callbacks paced by a clock (headless servers, CI). */
    static openNull(o?: {
        sampleRate?: number;
        bufferSize?: number;
        channels?: number;
    }): Promise<Engine>;
    /** Replaces the playing graph (compiled here, swapped in on the audio thread); nodes that persist keep their state. */
    setGraph(g: Graph): void;
    /**
     * Replaces the automation lanes of the playing graph without recompiling it
     * (glitch-free, sample-accurate from the next callback). Pass the graph whose
     * `automate` calls describe the lanes (its nodes must be those playing), or a
     * list of lanes. Parameters that lose their lane keep the last value it gave.
     */
    setAutomation(source: Graph | Array<{
        node: NodeRef | number;
        param: string;
        lane: AutomationLane;
    }>): void;
    /** Changes a parameter of a node of the current graph, now or at a transport frame, optionally ramped. */
    setParam(node: NodeRef | number, param: string, value: number, o?: SetParamOptions): void;
    /** Starts or resumes the transport. */
    play(): void;
    /** Pauses the transport; the engine outputs silence. */
    stop(): void;
    /** Moves the transport to `frame`. */
    seek(frame: number): void;
    /** Loops the transport over `start..end` (end exclusive); `null` ends looping. */
    setLoop(start: number, end: number | null): void;
    /** The transport frame. */
    get position(): number;
    /** The sample rate the device granted. */
    get sampleRate(): number;
    /** The buffer size the device granted, in frames. */
    get bufferSize(): number;
    /** The output channel count. */
    get channels(): number;
    /** Latency the current graph reports to the output, in frames. */
    get latencyFrames(): number;
    /**
     * Calls `cb` about `fps` times a second (default 30) with every meter's
     * reading: peaks and RMS over the interval since the previous call,
     * loudness over its windows. Returns the unsubscribe function.
     */
    onMeters(cb: (m: Record<string, MeterReading>) => void, o?: {
        fps?: number;
    }): () => void;
    /** Starts meter `name`'s integrated loudness and loudness range anew. */
    resetMeter(name: string): void;
    /** Calls `cb` on device loss or stream errors; the engine can then be reopened. Returns the unsubscribe function. */
    onError(cb: (e: Error) => void): () => void;
    /** Callback timing, xruns, dropped messages, priority, denormal and SIMD facts. */
    stats(): EngineStats;
    /** Stops the audio, releases every callback; the process can then exit. */
    close(): Promise<void>;
}
/** One audio device. */
export interface DeviceInfo {
    /** Identifier to pass as `device` (for example `alsa:null`). */
    id: string;
    /** Human-readable name. */
    name: string;
    /** Whether this is the system's default output. */
    isDefault: boolean;
    /** Most output channels the device offers (0: input only). */
    outputChannels: number;
    /** Most input channels the device offers (0: output only). */
    inputChannels: number;
    /** Common sample rates the device supports. */
    sampleRates: number[];
}
/** The audio devices that can be opened (ALSA's `null` device is one, even without a sound card). */
export declare function listDevices(): DeviceInfo[];
