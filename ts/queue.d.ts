import { type FileAnalysis } from './files';
import type { MeterReading } from './meters';
/** Normalise `input`'s integrated loudness into `output` (see `normalizeFile`). */
export interface NormalizeJob {
    /** The job kind (also the BullMQ job's name). */
    kind: 'normalize';
    /** Any common audio file. */
    input: string;
    /** `.wav` or `.flac`; written under a temporary name and renamed when complete. */
    output: string;
    /** LUFS, from -70 to 0. */
    targetLufs: number;
    /** dBTP ceiling, from -30 to 0; default -1. */
    truePeakDb?: number;
    /** 16, 24 (default) or 32 (float, WAV only). */
    bitDepth?: 16 | 24 | 32;
    /** Output rate (default: the input's). */
    sampleRate?: number;
}
/** Measure `input` (see `analyzeFile`). */
export interface LoudnessJob {
    /** The job kind (also the BullMQ job's name); the return value is `analyzeFile`'s `FileAnalysis`. */
    kind: 'loudness';
    /** Any common audio file. */
    input: string;
}
/** Render a graph (its `Graph.toJSON()` form) into `output` (see `renderToFile`). */
export interface RenderJob {
    /** The job kind (also the BullMQ job's name). */
    kind: 'render';
    /** `graph.toJSON()`, or its JSON text. */
    graph: object;
    /** `.wav` or `.flac`; written under a temporary name and renamed when complete. */
    output: string;
    /** Frames per second. */
    sampleRate: number;
    /** Frames to render. */
    frames: number;
    /** Default 2. */
    channels?: number;
    /** 16, 24 (default) or 32 (float, WAV only). */
    bitDepth?: 16 | 24 | 32;
    /** An audio file streamed (and resampled) into the graph's input. */
    input?: string;
}
/** A job's data. */
export type Job = NormalizeJob | LoudnessJob | RenderJob;
/**
 * A normalize job's return value (after {@link reviveNumbers}): `normalizeFile`'s
 * result, with `after.info.path` the job's output.
 */
export interface NormalizeJobResult {
    /** The input, measured. */
    before: FileAnalysis;
    /** The output, measured as written. */
    after: FileAnalysis;
    /** The gain applied, dB. */
    gainDb: number;
    /** Whether the true-peak limiter reduced any peak. */
    limited: boolean;
}
/** A render job's return value (after {@link reviveNumbers}): `renderToFile`'s result. */
export interface RenderJobResult {
    /** Frames written. */
    frames: number;
    /** The graph's latency, frames. */
    latencyFrames: number;
    /** Each meter node's reading over the render, by name. */
    meters: Record<string, MeterReading>;
}
/** Options of {@link startWorker}. */
export interface WorkerOptions {
    /** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). */
    redis: string;
    /** Queue name; default `'ferrite'`. */
    queue?: string;
    /** Jobs this worker runs at once; default 1. Each job keeps about one core busy. */
    concurrency?: number;
    /**
     * Milliseconds a job's lock lasts without renewal (renewed every half of
     * it); default 15000. A job whose worker died is taken up by another
     * within `lockDuration + stalledInterval`.
     */
    lockDuration?: number;
    /** Milliseconds between checks for jobs whose lock has expired; default 5000. */
    stalledInterval?: number;
    /**
     * Receives one line per job started, completed or failed, and the worker's
     * errors (a lost Redis connection: BullMQ reconnects). Default: errors to
     * stderr, nothing else.
     */
    log?: (line: string) => void;
}
/** A running worker. */
export interface QueueWorker {
    /** Stops taking jobs, waits for the running ones to finish, and disconnects. */
    close(): Promise<void>;
}
/** Options of {@link enqueue}. */
export interface EnqueueOptions {
    /** As for {@link startWorker}. */
    redis: string;
    /** Queue name; default `'ferrite'`. */
    queue?: string;
    /** Tries before the job fails, with exponential backoff (1 s, 2 s, 4 s, ...); default 3. A bad input fails at the first. */
    attempts?: number;
    /** A job id of your own: a job whose id is already in the queue is not added again. */
    jobId?: string;
}
/** The queue used when none is named. */
export declare const DEFAULT_QUEUE = "ferrite";
/** Default {@link WorkerOptions.lockDuration}, ms. */
export declare const DEFAULT_LOCK_DURATION = 15000;
/** Default {@link WorkerOptions.stalledInterval}, ms. */
export declare const DEFAULT_STALLED_INTERVAL = 5000;
/** Default {@link EnqueueOptions.attempts}. */
export declare const DEFAULT_ATTEMPTS = 3;
/**
 * Adds a job to the queue and returns its id. The job is checked here (a bad
 * field throws `TypeError` / `RangeError`); its files are checked by the
 * worker that takes it. Relative paths are made absolute against this
 * process's working directory: every worker must see the files at the same
 * paths (a shared volume mounted at the same place).
 *
 * ```js
 * const { id } = await enqueue({ kind: 'normalize', input: '/media/in/ep1.mp3', output: '/media/out/ep1.flac', targetLufs: -16 }, { redis: 'redis://queue-host:6379' })
 * ```
 */
export declare function enqueue(job: Job, o: EnqueueOptions): Promise<{
    /** The BullMQ job id. */
    id: string;
}>;
/**
 * A job's return value (BullMQ's `job.returnvalue`) with the strings
 * `'-Infinity'`, `'Infinity'` and `'NaN'` back as numbers: the worker writes
 * them as strings because JSON has no such numbers.
 *
 * ```js
 * const result = reviveNumbers(job.returnvalue) // result.after.integratedLufs is a number again
 * ```
 */
export declare function reviveNumbers<T = unknown>(v: unknown): T;
/**
 * Processes jobs from the queue until closed: `normalize`, `loudness` and
 * `render` (see {@link Job}); resolves once connected to Redis (while Redis
 * does not answer it waits, retrying, and reports each failed try through
 * `log` or stderr: a worker may start before its Redis). Several
 * workers, on any number of machines, may share a queue; a job whose worker
 * dies is taken up by another within `lockDuration + stalledInterval`.
 * A bad input (a missing file, a bad field, an invalid graph) fails its job
 * at once with the reason; other errors are retried with exponential backoff.
 *
 * ```js
 * const worker = await startWorker({ redis: 'redis://queue-host:6379', concurrency: 2 })
 * process.once('SIGTERM', () => worker.close()) // finishes the running jobs, then disconnects
 * ```
 */
export declare function startWorker(o: WorkerOptions): Promise<QueueWorker>;
