/** One entry of a processor's `static parameters`. */
export interface ProcessorParameterDescriptor {
    /** Initial value when the graph gives none. */
    default: number;
    /** Smallest accepted value (inclusive); default: unbounded. */
    min?: number;
    /** Largest accepted value (inclusive); default: unbounded. */
    max?: number;
}
/** The second argument of a processor's constructor. */
export interface ProcessorContext {
    /** Frames per second of the engine or render. */
    sampleRate: number;
    /** Channels `process` receives (the node's `channels`). */
    channels: number;
    /** Frames per `process` call: always 128. */
    blockSize: number;
}
/**
 * Parameter values of one block: a `Float32Array` of `blockSize` values
 * (one per frame) when the parameter moves during the block, or a number
 * when it is constant over the block.
 */
export type ProcessorParams<K extends string = string> = Record<K, Float32Array | number>;
/** An instance of a processor class (see {@link AudioProcessorClass}). */
export interface AudioProcessor {
    /**
     * Renders one block of {@link ProcessorContext.blockSize} frames: reads
     * `inputs` and writes `outputs` (one `Float32Array` per channel each;
     * `outputs` hold what an earlier block left there, so write every
     * sample). `frame` is the transport frame of the block's first frame.
     * Runs on the processor worker thread; the arrays are views of shared
     * memory, reused from block to block: read them during the call only.
     */
    process(inputs: Float32Array[], outputs: Float32Array[], params: ProcessorParams, frame: number): void;
}
/**
 * What the default export of a processor module must be: a class with
 * `static parameters` (optional), constructed with the node's `options` and
 * a {@link ProcessorContext}.
 *
 * ```ts
 * import type { AudioProcessor, AudioProcessorClass, ProcessorContext, ProcessorParams } from 'ferrite-audio'
 *
 * export default class Gain implements AudioProcessor {
 *   static parameters = { gain: { default: 1, min: 0, max: 4 } }
 *   constructor(options: unknown, ctx: ProcessorContext) {}
 *   process(inputs: Float32Array[], outputs: Float32Array[], params: ProcessorParams): void {
 *     const g = params.gain
 *     for (let c = 0; c < inputs.length; c++)
 *       for (let i = 0; i < inputs[c].length; i++) outputs[c][i] = inputs[c][i] * (typeof g === 'number' ? g : g[i])
 *   }
 * }
 * Gain satisfies AudioProcessorClass
 * ```
 */
export interface AudioProcessorClass<O = unknown> {
    new (options: O, ctx: ProcessorContext): AudioProcessor;
    /** Parameter names with their defaults and ranges: they take `setParam` and automation. */
    parameters?: Record<string, ProcessorParameterDescriptor>;
}
