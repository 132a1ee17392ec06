// Jobs on a BullMQ queue over Redis: normalise, measure and render files on
// any number of machines (`ferrite-audio/queue`, and `ferrite worker`).
//
// BullMQ is an optional peer dependency: it is required here, lazily, on the
// first call, so the package root never loads it. Every job is the package's
// own function run off the JavaScript thread (napi AsyncTask), so the event
// loop stays free for BullMQ's lock renewal however long a job runs.
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import type * as BullMQ from 'bullmq'
import { analyzeFile, normalizeFile, probeFile, renderToFile, type FileAnalysis } from './files'
import { Graph } from './graph'
import type { MeterReading } from './meters'
import { checkFrames, checkNumber, checkObject, checkSampleRate, describe } from './validate'

/** Normalise `input`'s integrated loudness into `output` (see `normalizeFile`). */
export interface NormalizeJob {
  /** The job kind (also the BullMQ job's name). */
  kind: 'normalize'
  /** Any common audio file. */
  input: string
  /** `.wav` or `.flac`; written under a temporary name and renamed when complete. */
  output: string
  /** LUFS, from -70 to 0. */
  targetLufs: number
  /** dBTP ceiling, from -30 to 0; default -1. */
  truePeakDb?: number
  /** 16, 24 (default) or 32 (float, WAV only). */
  bitDepth?: 16 | 24 | 32
  /** Output rate (default: the input's). */
  sampleRate?: number
}

/** Measure `input` (see `analyzeFile`). */
export interface LoudnessJob {
  /** The job kind (also the BullMQ job's name); the return value is `analyzeFile`'s `FileAnalysis`. */
  kind: 'loudness'
  /** Any common audio file. */
  input: string
}

/** Render a graph (its `Graph.toJSON()` form) into `output` (see `renderToFile`). */
export interface RenderJob {
  /** The job kind (also the BullMQ job's name). */
  kind: 'render'
  /** `graph.toJSON()`, or its JSON text. */
  graph: object
  /** `.wav` or `.flac`; written under a temporary name and renamed when complete. */
  output: string
  /** Frames per second. */
  sampleRate: number
  /** Frames to render. */
  frames: number
  /** Default 2. */
  channels?: number
  /** 16, 24 (default) or 32 (float, WAV only). */
  bitDepth?: 16 | 24 | 32
  /** An audio file streamed (and resampled) into the graph's input. */
  input?: string
}

/** A job's data. */
export type Job = NormalizeJob | LoudnessJob | RenderJob

/**
 * A normalize job's return value (after {@link reviveNumbers}): `normalizeFile`'s
 * result, with `after.info.path` the job's output.
 */
export interface NormalizeJobResult {
  /** The input, measured. */
  before: FileAnalysis
  /** The output, measured as written. */
  after: FileAnalysis
  /** The gain applied, dB. */
  gainDb: number
  /** Whether the true-peak limiter reduced any peak. */
  limited: boolean
}

/** A render job's return value (after {@link reviveNumbers}): `renderToFile`'s result. */
export interface RenderJobResult {
  /** Frames written. */
  frames: number
  /** The graph's latency, frames. */
  latencyFrames: number
  /** Each meter node's reading over the render, by name. */
  meters: Record<string, MeterReading>
}

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). */
  redis: string
  /** Queue name; default `'ferrite'`. */
  queue?: string
  /** Jobs this worker runs at once; default 1. Each job keeps about one core busy. */
  concurrency?: number
  /**
   * Milliseconds a job's lock lasts without renewal (renewed every half of
   * it); default 15000. A job whose worker died is taken up by another
   * within `lockDuration + stalledInterval`.
   */
  lockDuration?: number
  /** Milliseconds between checks for jobs whose lock has expired; default 5000. */
  stalledInterval?: number
  /**
   * Receives one line per job started, completed or failed, and the worker's
   * errors (a lost Redis connection: BullMQ reconnects). Default: errors to
   * stderr, nothing else.
   */
  log?: (line: string) => void
}

/** A running worker. */
export interface QueueWorker {
  /** Stops taking jobs, waits for the running ones to finish, and disconnects. */
  close(): Promise<void>
}

/** Options of {@link enqueue}. */
export interface EnqueueOptions {
  /** As for {@link startWorker}. */
  redis: string
  /** Queue name; default `'ferrite'`. */
  queue?: string
  /** Tries before the job fails, with exponential backoff (1 s, 2 s, 4 s, ...); default 3. A bad input fails at the first. */
  attempts?: number
  /** A job id of your own: a job whose id is already in the queue is not added again. */
  jobId?: string
}

/** The queue used when none is named. */
export const DEFAULT_QUEUE = 'ferrite'
/** Default {@link WorkerOptions.lockDuration}, ms. */
export const DEFAULT_LOCK_DURATION = 15_000
/** Default {@link WorkerOptions.stalledInterval}, ms. */
export const DEFAULT_STALLED_INTERVAL = 5_000
/** Default {@link EnqueueOptions.attempts}. */
export const DEFAULT_ATTEMPTS = 3
/** The first retry's delay, ms; each further retry waits twice as long. */
const BACKOFF_MS = 1000
/** How many times a job may lose its worker (a kill, a crash, a lost lock) before it fails. */
const MAX_STALLED_COUNT = 2

/** How long {@link enqueue} waits for Redis before it gives up, ms (a worker keeps retrying). */
const CONNECT_TIMEOUT_MS = 10_000

let bullmq: typeof BullMQ | undefined

/** BullMQ, loaded on first use; a clear error when it is not installed. */
function loadBullMQ(): typeof BullMQ {
  if (bullmq) return bullmq
  try {
    bullmq = require('bullmq') as typeof BullMQ
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /'bullmq'/.test((e as Error).message)) {
      throw new Error("ferrite-audio/queue needs the bullmq package (an optional peer dependency of ferrite-audio): npm install bullmq@^5")
    }
    throw e
  }
  return bullmq
}

function checkRedisUrl(where: string, url: unknown): string {
  if (typeof url !== 'string') throw new TypeError(`${where}: 'redis' must be a redis:// URL string, got ${describe(url)}`)
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new TypeError(`${where}: redis = ${JSON.stringify(url)} is not a URL (redis://HOST:PORT)`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new TypeError(`${where}: redis = ${JSON.stringify(url)} must start with redis:// or rediss://`)
  if (!u.hostname) throw new TypeError(`${where}: redis = ${JSON.stringify(url)} has no host`)
  return url
}

/** `url` without its password, for messages. */
function redact(url: string): string {
  const u = new URL(url)
  if (u.password) u.password = '***'
  return u.toString()
}

function checkQueueName(where: string, name: unknown): string {
  if (name === undefined) return DEFAULT_QUEUE
  if (typeof name !== 'string' || name.length === 0 || name.includes(':')) {
    throw new TypeError(`${where}: 'queue' must be a non-empty string without ':', got ${describe(name)}`)
  }
  return name
}

function checkWhole(where: string, name: string, v: unknown, min: number, max: number): number {
  checkNumber(where, name, v)
  const n = v as number
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${where}: ${name} = ${n} must be a whole number from ${min} to ${max}`)
  return n
}

function checkString(where: string, name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`${where}: '${name}' must be a non-empty string, got ${describe(v)}`)
  return v
}

function checkRange(where: string, name: string, v: unknown, min: number, max: number): number {
  const n = checkNumber(where, name, v)
  if (n < min || n > max) throw new RangeError(`${where}: ${name} = ${n} must be in [${min}, ${max}]`)
  return n
}

function checkKnownKeys(where: string, o: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new TypeError(`${where}: unknown field '${k}' (known: ${keys.join(', ')})`)
}

function checkBitDepth(where: string, v: unknown): void {
  if (v !== undefined && v !== 16 && v !== 24 && v !== 32) throw new RangeError(`${where}: bitDepth = ${describe(v)} must be 16, 24 or 32`)
}

/**
 * `job` if it is a well-formed job; else a `TypeError` / `RangeError` naming
 * the field. Checks what can be checked without the files (those may live on
 * another machine's view of the shared volume).
 */
function checkJob(where: string, job: unknown): Job {
  const o = checkObject(where, job, false)
  switch (o.kind) {
    case 'normalize':
      checkKnownKeys(where, o, ['kind', 'input', 'output', 'targetLufs', 'truePeakDb', 'bitDepth', 'sampleRate'])
      checkString(where, 'input', o.input)
      checkString(where, 'output', o.output)
      checkRange(where, 'targetLufs', o.targetLufs, -70, 0)
      if (o.truePeakDb !== undefined) checkRange(where, 'truePeakDb', o.truePeakDb, -30, 0)
      checkBitDepth(where, o.bitDepth)
      if (o.sampleRate !== undefined) checkSampleRate(where, o.sampleRate)
      break
    case 'loudness':
      checkKnownKeys(where, o, ['kind', 'input'])
      checkString(where, 'input', o.input)
      break
    case 'render':
      checkKnownKeys(where, o, ['kind', 'graph', 'output', 'sampleRate', 'frames', 'channels', 'bitDepth', 'input'])
      if (typeof o.graph !== 'string' && (typeof o.graph !== 'object' || o.graph === null)) {
        throw new TypeError(`${where}: 'graph' must be a graph's toJSON() form, got ${describe(o.graph)}`)
      }
      checkString(where, 'output', o.output)
      checkSampleRate(where, o.sampleRate)
      if (checkFrames(where, 'frames', o.frames) === 0) throw new RangeError(`${where}: frames = 0: a render needs at least one frame`)
      if (o.channels !== undefined) checkWhole(where, 'channels', o.channels, 1, 64)
      checkBitDepth(where, o.bitDepth)
      if (o.input !== undefined) checkString(where, 'input', o.input)
      break
    default:
      throw new TypeError(`${where}: 'kind' must be 'normalize', 'loudness' or 'render', got ${describe(o.kind)}`)
  }
  return o as unknown as Job
}

/** The same job with its paths absolute (against this process's working directory). */
function absolutePaths(job: Job): Job {
  const j = { ...job } as Record<string, unknown>
  for (const k of ['input', 'output']) if (typeof j[k] === 'string') j[k] = resolve(j[k] as string)
  return j as unknown as Job
}

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
export async function enqueue(
  job: Job,
  o: EnqueueOptions,
): Promise<{
  /** The BullMQ job id. */
  id: string
}> {
  const where = 'enqueue'
  const data = absolutePaths(checkJob(where, job))
  const opts = checkObject(where, o, false)
  checkKnownKeys(where, opts, ['redis', 'queue', 'attempts', 'jobId'])
  const url = checkRedisUrl(where, opts.redis)
  const name = checkQueueName(where, opts.queue)
  const attempts = opts.attempts === undefined ? DEFAULT_ATTEMPTS : checkWhole(where, 'attempts', opts.attempts, 1, 100)
  const jobId = opts.jobId === undefined ? undefined : checkString(where, 'jobId', opts.jobId)
  if (jobId !== undefined && (/^\d+$/.test(jobId) || jobId.includes(':'))) {
    throw new TypeError(`${where}: jobId = ${JSON.stringify(jobId)} must not be a plain integer (BullMQ's own ids) nor contain ':'`)
  }
  const { Queue } = loadBullMQ()
  const queue = new Queue(name, { connection: { url } })
  let lastError: Error | undefined
  queue.on('error', (e) => (lastError = e))
  let timer: NodeJS.Timeout | undefined
  const unreachable = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`enqueue: cannot reach ${redact(url)}: ${lastError?.message ?? 'no answer'} (gave up after ${CONNECT_TIMEOUT_MS / 1000} s)`)),
      CONNECT_TIMEOUT_MS,
    )
  })
  try {
    await Promise.race([queue.waitUntilReady(), unreachable])
    const added = await queue.add(data.kind, data, {
      attempts,
      backoff: { type: 'exponential', delay: BACKOFF_MS },
      jobId,
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    })
    return { id: added.id as string }
  } finally {
    clearTimeout(timer)
    await queue.close().catch(() => {})
  }
}

/**
 * Numbers JSON cannot carry (`-Infinity` for a silent file's loudness, NaN)
 * as the strings `'-Infinity'`, `'Infinity'`, `'NaN'`, as `ferrite ... --json`
 * prints them; {@link reviveNumbers} turns them back.
 */
function jsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v)
  if (Array.isArray(v)) return v.map(jsonSafe)
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x)
    return out
  }
  return v
}

/**
 * A job's return value (BullMQ's `job.returnvalue`) with the strings
 * `'-Infinity'`, `'Infinity'` and `'NaN'` back as numbers: the worker writes
 * them as strings because JSON has no such numbers.
 *
 * ```js
 * const result = reviveNumbers(job.returnvalue) // result.after.integratedLufs is a number again
 * ```
 */
export function reviveNumbers<T = unknown>(v: unknown): T {
  if (v === '-Infinity') return -Infinity as T
  if (v === 'Infinity') return Infinity as T
  if (v === 'NaN') return NaN as T
  if (Array.isArray(v)) return v.map((x) => reviveNumbers(x)) as T
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = reviveNumbers(x)
    return out as T
  }
  return v as T
}

/** An error of the job's own input: BullMQ fails the job at once, without retries. */
function permanent(e: unknown): Error {
  const { UnrecoverableError } = loadBullMQ()
  return new UnrecoverableError(e instanceof Error ? e.message : String(e))
}

/** Refuses a job that cannot succeed however often it is tried: `UnrecoverableError` with the reason. */
async function checkFiles(job: Job): Promise<void> {
  const input = job.input
  if (input !== undefined) {
    let st
    try {
      st = await stat(input)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') throw permanent(`${input}: no such file`)
      throw e // EACCES, EIO, ESTALE, ...: the volume may come back; retried
    }
    if (!st.isFile()) throw permanent(`${input}: not a regular file`)
    try {
      await probeFile(input)
    } catch (e) {
      // An OS error is the volume's, not the file's: retried.
      if (/os error \d+/.test((e as Error).message)) throw e
      throw permanent(e)
    }
  }
  if (job.kind !== 'loudness') {
    const dir = dirname(job.output)
    try {
      if (!(await stat(dir)).isDirectory()) throw permanent(`${job.output}: ${dir} is not a directory`)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') throw permanent(`${job.output}: the directory ${dir} does not exist`)
      throw e
    }
    if (!/\.(wav|flac)$/i.test(job.output)) throw permanent(`${job.output}: the output must end in .wav or .flac`)
  }
}

/**
 * Where a job writes before its output is renamed into place: a hidden
 * directory beside the output, one per job id. A worker killed mid-job leaves
 * its partial file in there; the next attempt of the same job (on any
 * worker) removes it first, and the directory goes when the job ends.
 */
function stagingDir(output: string, jobId: string): string {
  return join(dirname(output), `.${basename(output)}.ferrite-job-${jobId.replace(/[^A-Za-z0-9_-]/g, '_')}`)
}

/** Runs one job: checks its files, writes into its staging directory, renames the output into place. */
async function runJob(job: BullMQ.Job): Promise<unknown> {
  let data: Job
  try {
    data = checkJob(`job ${job.id}`, job.data)
  } catch (e) {
    throw permanent(e)
  }
  await checkFiles(data)
  await job.updateProgress(0)
  if (data.kind === 'loudness') {
    const r = await analyzeFile(data.input)
    await job.updateProgress(100)
    return jsonSafe(r)
  }
  let graph: Graph | undefined
  if (data.kind === 'render') {
    try {
      graph = Graph.fromJSON(data.graph)
    } catch (e) {
      throw permanent(e)
    }
  }
  const staging = stagingDir(data.output, String(job.id))
  await rm(staging, { recursive: true, force: true })
  await mkdir(staging)
  const staged = join(staging, basename(data.output))
  try {
    let result: unknown
    try {
      if (data.kind === 'normalize') {
        const r = await normalizeFile(data.input, staged, { targetLufs: data.targetLufs, truePeakDb: data.truePeakDb, bitDepth: data.bitDepth, sampleRate: data.sampleRate })
        // What was measured was the staged file; it is the output now.
        result = { ...r, after: { ...r.after, info: { ...r.after.info, path: data.output } } }
      } else {
        let lastPercent = 0
        result = await renderToFile(graph as Graph, {
          path: staged,
          sampleRate: data.sampleRate,
          frames: data.frames,
          channels: data.channels,
          bitDepth: data.bitDepth,
          input: data.input,
          onProgress: (done, frames) => {
            const percent = Math.floor((100 * done) / frames)
            if (percent > lastPercent && percent < 100) {
              lastPercent = percent
              job.updateProgress(percent).catch(() => {}) // a missed progress report is not worth failing the job
            }
          },
        })
      }
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw permanent(e)
      throw e
    }
    // Same directory, so the rename is atomic: the output is the old file or the whole new one.
    await rename(staged, data.output)
    await job.updateProgress(100)
    return jsonSafe(result)
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

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
export async function startWorker(o: WorkerOptions): Promise<QueueWorker> {
  const where = 'startWorker'
  const opts = checkObject(where, o, false)
  checkKnownKeys(where, opts, ['redis', 'queue', 'concurrency', 'lockDuration', 'stalledInterval', 'log'])
  const url = checkRedisUrl(where, opts.redis)
  const name = checkQueueName(where, opts.queue)
  const concurrency = opts.concurrency === undefined ? 1 : checkWhole(where, 'concurrency', opts.concurrency, 1, 256)
  const lockDuration = opts.lockDuration === undefined ? DEFAULT_LOCK_DURATION : checkWhole(where, 'lockDuration', opts.lockDuration, 200, 3_600_000)
  const stalledInterval = opts.stalledInterval === undefined ? DEFAULT_STALLED_INTERVAL : checkWhole(where, 'stalledInterval', opts.stalledInterval, 100, 3_600_000)
  if (opts.log !== undefined && typeof opts.log !== 'function') throw new TypeError(`${where}: 'log' must be a function, got ${describe(opts.log)}`)
  const log = opts.log as ((line: string) => void) | undefined
  const { Worker } = loadBullMQ()
  const worker = new Worker(name, runJob, {
    connection: { url },
    concurrency,
    lockDuration,
    stalledInterval,
    maxStalledCount: MAX_STALLED_COUNT,
    name: `${hostname()}:${process.pid}`,
    autorun: false,
  })
  // Without a listener, an 'error' event (Redis went away) would end the process.
  worker.on('error', (e) => (log ? log(`error: ${e.message}`) : console.error(`ferrite worker: ${e.message}`)))
  worker.on('failed', (job, e) => {
    if (!job) return
    log?.(`job ${job.id} ${job.name}: failed (attempt ${job.attemptsMade}): ${e.message}`)
    // A job failed without running (it stalled too often) leaves its staging directory behind.
    if (typeof job.data?.output === 'string') rm(stagingDir(job.data.output, String(job.id)), { recursive: true, force: true }).catch(() => {})
  })
  if (log) {
    worker.on('active', (job) => log(`job ${job.id} ${job.name}: started (attempt ${job.attemptsMade + 1})`))
    worker.on('completed', (job) => log(`job ${job.id} ${job.name}: completed in ${((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000} s`))
  }
  try {
    await worker.waitUntilReady()
  } catch (e) {
    await worker.close().catch(() => {})
    throw e
  }
  void worker.run().catch((e: Error) => worker.emit('error', e))
  return { close: () => worker.close() }
}
