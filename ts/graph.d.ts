import { AutomationLane } from './automation';
/** The RBJ cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'allpass' | 'peaking' | 'lowshelf' | 'highshelf';
/** Oscillator waveforms; saw, square and triangle are band-limited. */
export type Waveform = 'sine' | 'saw' | 'square' | 'triangle';
/** Noise colours of {@link Graph.noise}. */
export type NoiseColor = 'white' | 'pink' | 'brown';
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
/** Options of {@link Graph.processor}. */
export interface ProcessorNodeOptions {
    /** Path (relative to the working directory) or `file:` URL of the ES module whose default export is the processor class. */
    module: string;
    /** Initial values of the module's `static parameters` (the rest take their defaults). */
    params?: Record<string, number>;
    /** Channels `process` sees: 1 or the render's channel count (the default). */
    channels?: number;
    /** JSON data passed to the constructor (its first argument). */
    options?: unknown;
    /** Latency in blocks of 128 frames, 1 to 64 (default 2; an engine with a longer buffer raises it). */
    latencyBlocks?: number;
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
     * buffer's first frame. A mono buffer feeds every channel. `sampleRate` is
     * the buffer's own rate (default: the render's); a buffer at another rate
     * is resampled (band-limited, when the graph is compiled, never on the
     * audio thread), so a 44.1 kHz buffer plays at its pitch in a 48 kHz render.
     */
    player(o: {
        channels: Float32Array[];
        sampleRate?: number;
        loop?: boolean;
        startFrame?: number;
    }): NodeRef;
    /**
     * Streams an audio file from disk (any format {@link probeFile} reads),
     * resampled to the render's rate, in constant memory whatever the file's
     * length: a reader thread decodes ahead into a lock-free ring (4 s, refilled
     * below 3 s; the first 1.5 s from `offsetFrames` are kept, so a jump back to
     * the start is instant), and the audio thread never touches the file.
     * Transport frame `p` plays file frame `offsetFrames + (p - startFrame)`
     * (at the render's rate): silence before `startFrame` and after the end, or,
     * with `loop`, the file again from its first frame. Render channel `c` plays
     * file channel `c mod n`. `gain` is a parameter (linear, 0..16, default 1).
     * Offline renders wait for the file's data (never a missing sample); in real
     * time a late read plays silence and counts in `stats().diskUnderruns`. The
     * file is opened when the graph is rendered or set: a file that cannot be
     * read is an `Error` naming it.
     */
    filePlayer(o: {
        path: string;
        startFrame?: number;
        offsetFrames?: number;
        loop?: boolean;
        gain?: number;
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
    /**
     * A pass-through spectrum tap of the mono mix (the mean of the channels).
     * `fftSize`: a power of two in 32..32768 (default 2048); `smoothing`: Web
     * Audio's time constant, 0..1 (default 0.8). Offline, `result.spectra[name]`
     * is the average power spectrum of the whole render; in real time
     * `engine.onSpectrum` delivers smoothed spectra and the waveform. A
     * full-scale sine centred on a bin reads 0 dB there. Keyed by `name` (or the id).
     */
    analyser(o?: {
        name?: string;
        fftSize?: number;
        smoothing?: number;
    }): NodeRef;
    /**
     * An FIR EQ with the magnitude of the same RBJ bands as {@link Graph.eq} and
     * no phase shift (allpass bands change nothing). `length`: odd, 15..65535
     * (default 4095); the node reports a latency of `(length - 1) / 2` frames,
     * which the graph compensates. The bands are fixed when the graph compiles
     * (the filter is designed then, off the audio thread); to change them, set
     * a graph with new bands: the node keeps its input history and the new
     * filter takes over within a partition (128 frames at the default length).
     */
    linearPhaseEq(o: {
        bands: EqBand[];
        length?: number;
    }): NodeRef;
    /**
     * Seeded noise: `'white'` (uniform in ±amplitude), `'pink'` (−3.01 dB per
     * octave) or `'brown'` (−6.02 dB per octave above 5 Hz); pink and brown have
     * an RMS of amplitude/4. The same `seed` (a whole number, default 0) gives
     * the same samples whatever the block size. `amplitude` (default 1) is
     * automatable. Every channel carries the same noise.
     */
    noise(o?: {
        color?: NoiseColor;
        amplitude?: number;
        seed?: number;
    }): NodeRef;
    /**
     * A processor written in JavaScript or TypeScript: `module` is the path
     * (relative to the working directory) or `file:` URL of an ES module whose
     * default export is an {@link AudioProcessorClass}. It runs on a worker
     * thread beside the audio thread, 128 frames per `process` call, and
     * reports `latencyBlocks × 128` frames of latency (default 2 blocks, 256
     * frames; an engine whose buffer is longer than 128 frames raises it to
     * what its period needs), which the compiler compensates. `params` sets
     * initial values of the module's `static parameters`, which take
     * `setParam` and automation like any other. `channels` (1 or the render's
     * count, the default) is how many channels `process` sees: a one-channel
     * processor gets the mean of the channels and its output goes to every
     * channel. `options` (JSON data) is passed to the constructor. A missing
     * module file is refused here; a module that cannot be loaded, or whose
     * constructor throws, by `setGraph` / `renderOffline`.
     *
     * ```ts
     * const g = new Graph()
     * const trem = g.processor({ module: './tremolo.mjs', params: { rate: 4 } }) // default export: an AudioProcessorClass
     * g.chain(g.oscillator({ frequency: 220 }), trem, g.output)
     * ```
     */
    processor(o: ProcessorNodeOptions): NodeRef;
    /** Connects `from`'s output into `to`'s input (several inputs are summed). */
    connect(from: NodeRef, to: NodeRef): this;
    /**
     * Feeds `from`'s output to `compressor`'s detector instead of its own
     * input (ducking): the compressor still compresses what is connected to
     * it, by how loud `from` is. The key is not mixed in anywhere (connect
     * `from` to the output as well to hear it), and it is aligned with the
     * compressor's input when either path has latency. One key per
     * compressor; a key that would close a cycle is a `RangeError`.
     *
     * ```ts
     * const g = new Graph()
     * const music = g.oscillator({ frequency: 220, amplitude: 0.3 })
     * const voice = g.input
     * const duck = g.compressor({ thresholdDb: -30, ratio: 8 })
     * g.chain(music, duck, g.output).connect(voice, g.output).sidechain(voice, duck)
     * ```
     */
    sidechain(from: NodeRef, compressor: NodeRef): this;
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
     * (`Graph.fromJSON: nodes[3] (biquad, id 3): ...`). Node ids are kept
     * whatever order the nodes are listed in (0 is the input, 1 the output; ids
     * are whole numbers up to 2^32 - 1), so meter readings and `setParam` by
     * id refer to the same nodes as in the document.
     *
     * ```ts
     * const copy = Graph.fromJSON(JSON.stringify(graph))
     * ```
     */
    static fromJSON(json: object | string): Graph;
}
