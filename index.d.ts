import automation = require('./ts/automation');
import graph = require('./ts/graph');
import units = require('./ts/units');
export import AutomationLane = automation.AutomationLane;
export import GRAPH_FORMAT_VERSION = graph.GRAPH_FORMAT_VERSION;
export import Graph = graph.Graph;
export import secondsToFrames = units.secondsToFrames;
export import framesToSeconds = units.framesToSeconds;
export type { Curve, AutomationPoint } from './ts/automation';
export type { BiquadType, Waveform, NodeRef, EqBand } from './ts/graph';
import type { NodeRef } from './ts/graph';
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
