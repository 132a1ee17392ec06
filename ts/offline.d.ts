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
