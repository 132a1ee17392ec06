import { AutomationLane } from './automation';
import { Graph } from './graph';
import type { NodeRef } from './graph';
import type { MeterReading } from './meters';
import type { Spectrum } from './offline';
import { Recording } from './recording';
import type { RecordOptions } from './recording';
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
    /** Frames that `filePlayer`s played as silence because the disk was late (since the engine opened). */
    diskUnderruns: number;
    /** Frames recordings lost because their writer fell behind (see {@link Engine.record}). */
    recordDroppedFrames: number;
    /**
     * Frames `analyser` nodes dropped because their ring to the events thread
     * (which runs the FFTs) was full: their spectra missed those frames. The
     * ring holds about 0.7 s at 48 kHz, so this stays 0 unless the process
     * starves the events thread.
     */
    analyserDroppedFrames: number;
    /**
     * Blocks (128 frames) of `processor` nodes that played as silence because
     * their worker had not returned them in time (see {@link Graph.processor}).
     */
    processorUnderruns: number;
    /** Threads that render: the audio thread plus the workers started (see {@link EngineOpenOptions.threads}). */
    threads: number;
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
    /** Most bytes each graph given to `setGraph` may hold once compiled: default 2 GiB (see `renderOffline`'s). */
    memoryBudget?: number;
    /**
     * Threads that render (a whole number in [1, 64]): the audio thread plus `threads - 1` workers started now,
     * which render the parts of a graph big enough to gain from it. Any count gives the same samples.
     * Default: every core. `stats().threads` tells how many run.
     */
    threads?: number;
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
        memoryBudget?: number;
        threads?: number;
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
    /**
     * Calls `cb` about `fps` times a second (default 30) with every analyser's
     * spectrum (smoothed with its `smoothing`, computed on the engine's events
     * thread, never on the audio thread) and its newest `fftSize` samples
     * (`waveform`). Returns the unsubscribe function.
     */
    onSpectrum(cb: (s: Record<string, Spectrum & {
        waveform: Float32Array;
    }>) => void, o?: {
        fps?: number;
    }): () => void;
    /** Starts meter `name`'s integrated loudness and loudness range anew. */
    resetMeter(name: string): void;
    /** Calls `cb` on device loss or stream errors; the engine can then be reopened. Returns the unsubscribe function. */
    onError(cb: (e: Error) => void): () => void;
    /**
     * Records a node's output, the master output (default) or the device input
     * to a WAV or FLAC file (by the extension). The audio thread copies each
     * block into a lock-free ring and a writer thread writes it, so a
     * recording stays gap-free while the JavaScript thread is blocked.
     * `startFrame` / `endFrame` punch in and out at exact transport frames.
     * Rejects (TypeError / RangeError naming the option) on bad options, and
     * with an Error naming the path when the file cannot be created.
     *
     * ```ts
     * const take = await engine.record({ path: 'take.wav', source: track, bitDepth: 24 })
     * // ...
     * const { frames, droppedFrames } = await take.stop()
     * ```
     */
    record(o: RecordOptions): Promise<Recording>;
    /** Callback timing, xruns, dropped messages, priority, denormal and SIMD facts. */
    stats(): EngineStats;
    /** Finishes every open recording (each file complete on disk), stops the audio, releases every callback; the process can then exit. */
    close(): Promise<void>;
}
