import { Graph } from './graph';
import type { MeterReading } from './meters';
/** What {@link renderOffline} resolves to. */
export interface RenderResult {
    /** `channels` arrays of `frames` samples. */
    channels: Float32Array[];
    /** What `graph.latencyFrames(sampleRate)` reports. */
    latencyFrames: number;
    /** One entry per meter node, keyed by its name (or id). */
    meters: Record<string, MeterReading>;
    /** One entry per analyser node, keyed by its name (or id): the average power spectrum of the render. */
    spectra: Record<string, Spectrum>;
}
/**
 * An analyser's spectrum: `fftSize / 2 + 1` bins, bin `k` at
 * `k · sampleRate / fftSize` Hz. A full-scale sine centred on a bin reads
 * 0 dB there (Web Audio's AnalyserNode reads the same sine 13.56 dB lower);
 * silence reads `-Infinity`.
 */
export interface Spectrum {
    /** Bin frequencies, Hz. */
    frequencies: Float32Array;
    /** Bin magnitudes, dB. */
    magnitudesDb: Float32Array;
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
    /**
     * Most bytes the compiled graph may hold (delay lines, convolution
     * partitions, buffers): default 2 GiB. A larger graph is refused with a
     * `RangeError` naming its largest nodes before anything is allocated.
     * Within the budget, memory the machine cannot give is a `RangeError`
     * naming the node (`delay #8: cannot allocate 512.0 MiB`).
     */
    memoryBudget?: number;
    /**
     * Threads that render (1 to 64); default every core
     * (`os.availableParallelism()`). A graph whose mix sums independent tracks
     * or busses renders them on a pool shared by every render; a small graph
     * stays on one thread. Does not change the result: any count gives the
     * same samples, bit for bit.
     */
    threads?: number;
}
/**
 * Renders `graph` offline, off the JavaScript thread, with the same render
 * core as the real-time engine.
 *
 * ```ts
 * const { channels, meters } = await renderOffline(g, { sampleRate: 48000, frames: 48000 })
 * const same = await renderOffline(g, { sampleRate: 48000, frames: 48000, threads: 1 }) // the same samples
 * ```
 */
export declare function renderOffline(graph: Graph, o: RenderOptions): Promise<RenderResult>;
