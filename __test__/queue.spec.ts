// Jobs on a BullMQ queue (ferrite-audio/queue, `ferrite worker`) against a
// real redis-server: workers as child processes, killed and stopped as a
// deployment would; outputs measured by ffmpeg.
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue, QueueEvents, type Job as BullJob } from 'bullmq'
import { analyzeFile, Graph, normalizeFile } from '../index'
import { enqueue, startWorker, reviveNumbers } from '../queue'
import { ffmpegDecode, ffmpegLoudness, fixture } from './ffmpeg-fixtures'
import { startRedis, type RedisServer } from './redis-server'

const root = join(__dirname, '..')
const cli = join(root, 'bin', 'ferrite.js')

let redis: RedisServer
let dir: string
const children = new Set<ChildProcess>()

test.before(async () => {
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), 'ferrite-queue-'))
})

test.after.always(async () => {
  for (const c of children) c.kill('SIGKILL')
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** A `ferrite worker` child process; `lines` collects its stdout. */
class WorkerProcess {
  readonly child: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  private waiters: Array<() => void> = []

  constructor(queue: string, extra: string[] = []) {
    this.child = spawn(process.execPath, [cli, 'worker', '--redis', redis.url, '--queue', queue, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(this.child)
    let buf = ''
    this.child.stdout!.on('data', (d) => {
      buf += d
      const parts = buf.split('\n')
      buf = parts.pop()!
      this.lines.push(...parts)
      for (const w of this.waiters.splice(0)) w()
    })
    this.child.stderr!.on('data', (d) => (this.stderr += d))
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        children.delete(this.child)
        for (const w of this.waiters.splice(0)) w()
        resolve(code)
      }),
    )
  }

  /** The first stdout line matching `re` (waits for it; fails if the worker exits first). */
  async line(re: RegExp): Promise<string> {
    for (;;) {
      const hit = this.lines.find((l) => re.test(l))
      if (hit) return hit
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`worker exited without printing ${re}:\n${this.lines.join('\n')}\n${this.stderr}`)
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }

  /** `host:pid`, BullMQ's `job.processedBy` for this worker. */
  async name(): Promise<string> {
    return /ferrite worker (\S+):/.exec(await this.line(/ferrite worker \S+: queue/))![1]
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms))
}

/** Waits until every job is completed or failed; returns them, read after they settled. */
async function settled(queue: Queue, ids: string[]): Promise<BullJob[]> {
  for (;;) {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)))
    if (states.every((s) => s === 'completed' || s === 'failed')) return (await Promise.all(ids.map((id) => queue.getJob(id)))) as BullJob[]
    await sleep(100)
  }
}

/** Twelve inputs in twelve formats and layouts, 10 s each; the first is 60 s, to be killed mid-write. */
function inputs(into: string): string[] {
  const src = 'aevalsrc=0.5*sin(2*PI*997*t)+0.1*sin(2*PI*(200*t+30*t*t))|0.3*sin(2*PI*440*t)-0.2*sin(2*PI*3100*t):s=44100:d=10'
  const formats: Array<[string, string[]]> = [
    ['long.wav', ['-c:a', 'pcm_s16le']],
    ['s24.wav', ['-c:a', 'pcm_s24le']],
    ['f32.wav', ['-c:a', 'pcm_f32le']],
    ['s16.flac', ['-c:a', 'flac', '-sample_fmt', 's16']],
    ['lame.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k']],
    ['vorbis.ogg', ['-c:a', 'libvorbis', '-q:a', '6']],
    ['aac.m4a', ['-c:a', 'aac', '-b:a', '192k']],
    ['alac.m4a', ['-c:a', 'alac', '-sample_fmt', 's16p']],
    ['s24.aiff', ['-c:a', 'pcm_s24be']],
    ['s16.caf', ['-c:a', 'pcm_s16le']],
    ['mono48k.wav', ['-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le']],
    ['s24-96k.flac', ['-ar', '96000', '-c:a', 'flac', '-sample_fmt', 's32']],
  ]
  // ffmpeg's expression source is slow: evaluate it once, and encode every fixture from that file.
  const base = fixture(into, 'base.wav', ['-c:a', 'pcm_f32le'], src)
  const made = formats.map(([name, enc], i) => fixture(into, name, enc, `amovie=${base}${i === 0 ? ':loop=6' : ''}`))
  rmSync(base)
  return made
}

test.serial('two ferrite workers share a dozen normalize jobs; one killed with SIGKILL mid-write loses nothing', async (t) => {
  const name = 'normalize-kill'
  const inDir = join(dir, 'kill-in')
  const outDir = join(dir, 'kill-out')
  mkdirSync(inDir)
  mkdirSync(outDir)
  const files = inputs(inDir)
  const targets = [-16, -23, -18, -20, -14, -24, -16, -19, -21, -17, -23, -15]
  const jobs = files.map((input, i) => ({
    kind: 'normalize' as const,
    input,
    output: join(outDir, `${String(i).padStart(2, '0')}.${i % 2 ? 'flac' : 'wav'}`),
    targetLufs: targets[i],
  }))

  const queue = new Queue(name, { connection: { url: redis.url } })
  const events = new QueueEvents(name, { connection: { url: redis.url } })
  const completedEvents = new Map<string, number>()
  let stalledEvents = 0
  events.on('completed', ({ jobId }) => completedEvents.set(jobId, (completedEvents.get(jobId) ?? 0) + 1))
  events.on('stalled', () => stalledEvents++)
  await events.waitUntilReady()
  // Locks short enough for a quick test: a dead worker's job restarts within 2 + 1 s.
  const flags = ['--concurrency', '1', '--lock-duration', '2000', '--stalled-interval', '1000']
  const a = new WorkerProcess(name, flags)
  const b = new WorkerProcess(name, flags)
  try {
    const [nameA, nameB] = await Promise.all([a.name(), b.name()])
    const ids: string[] = []
    for (const job of jobs) ids.push((await enqueue(job, { redis: redis.url, queue: name })).id)
    const long = ids[0]

    // Whichever worker takes the long job is killed while its file is being written.
    const started = new RegExp(`job ${long} normalize: started`)
    const victim = await Promise.race([a.line(started).then(() => a), b.line(started).then(() => b)])
    const survivor = victim === a ? b : a
    const staging = join(outDir, `.${jobs[0].output.split('/').pop()}.ferrite-job-${long}`)
    let partial: string | undefined
    while (!partial) {
      try {
        partial = readdirSync(staging).find((f) => f.endsWith('.part'))
      } catch {}
      if (!partial) await sleep(2)
      if (victim.lines.some((l) => new RegExp(`job ${long} normalize: completed`).test(l))) throw new Error('the long job finished before its file was seen being written: make it longer')
    }
    victim.child.kill('SIGKILL')
    const killedAt = Date.now()
    t.is(await victim.exited, null, 'killed by the signal')
    t.true(partial.includes(`.${victim.child.pid}-`), `${partial} is the killed worker's`)

    const done = await settled(queue, ids)
    for (const [i, job] of done.entries()) {
      t.is(await job.getState(), 'completed', `${jobs[i].input}: ${job.failedReason}`)
      t.is(completedEvents.get(job.id!), 1, `job ${job.id} completed exactly once`)
      const r = reviveNumbers<Awaited<ReturnType<typeof normalizeFile>>>(job.returnvalue)
      t.true(Math.abs(r.after.integratedLufs - targets[i]) <= 0.1, `${jobs[i].input}: ${r.after.integratedLufs} LUFS for ${targets[i]}`)
      t.is(r.after.info.path, jobs[i].output)
      // ffmpeg's own reading of what the job wrote, and of its input.
      const out = ffmpegLoudness(jobs[i].output)
      t.true(Math.abs(out.integratedLufs - targets[i]) <= 0.2, `${jobs[i].output}: ffmpeg reads ${out.integratedLufs} LUFS for ${targets[i]}`)
      t.true(out.truePeakDb <= -0.9, `${jobs[i].output}: true peak ${out.truePeakDb} dBTP`)
      if (i === 0) t.true(Math.abs(r.before.integratedLufs - ffmpegLoudness(jobs[i].input).integratedLufs) <= 0.2, `${jobs[i].input}: before`)
    }
    // The killed job was taken up by the other worker, after its lock expired.
    const killed = done[0]
    t.is(killed.stalledCounter, 1)
    t.is(killed.processedBy, survivor === a ? nameA : nameB)
    t.true(stalledEvents >= 1)
    const restarted = survivor.lines.find((l) => started.test(l))!
    t.log(`killed ${victim === a ? nameA : nameB} while it wrote ${partial}; ${survivor === a ? nameA : nameB} started the job ${((Date.parse(restarted.split(' ')[0]) - killedAt) / 1000).toFixed(1)} s later (its lock: 2 s, stalled checks every 1 s, then it finished the job it had)`)
    // Every job ran to completion once (the killed attempt printed no completion).
    const completions = [...a.lines, ...b.lines].map((l) => / job (\S+) normalize: completed/.exec(l)?.[1]).filter(Boolean)
    t.deepEqual([...completions].sort(), [...ids].sort())
    // The two workers ran at once: the second job went to the other worker while the first ran.
    t.is(done[1].processedBy, survivor === a ? nameA : nameB)
    t.true(victim.lines.some((l) => started.test(l)))
    // Nothing but the dozen outputs: no staging directory, no partial file.
    t.deepEqual(readdirSync(outDir).sort(), jobs.map((j) => j.output.split('/').pop()).sort())
    // A job that ran twice wrote the file one run writes.
    const again = join(dir, 'again.wav')
    await normalizeFile(jobs[0].input, again, { targetLufs: targets[0] })
    t.true(readFileSync(again).equals(readFileSync(jobs[0].output)), 'the retried output is the same bytes as a single run')
  } finally {
    a.child.kill('SIGKILL')
    b.child.kill('SIGKILL')
    await events.close()
    await queue.close()
  }
})

test.serial('a bad input fails at once with its reason; a transient error is retried with backoff', async (t) => {
  const name = 'bad-input'
  const outDir = join(dir, 'bad-out')
  mkdirSync(outDir)
  const good = fixture(dir, 'good.flac', ['-c:a', 'flac'])
  const worker = await startWorker({ redis: redis.url, queue: name })
  const queue = new Queue(name, { connection: { url: redis.url } })
  try {
    const missing = await enqueue({ kind: 'normalize', input: join(dir, 'missing.wav'), output: join(outDir, 'x.wav'), targetLufs: -16 }, { redis: redis.url, queue: name, attempts: 3 })
    const notAudio = join(dir, 'notes.txt')
    writeFileSync(notAudio, 'not audio at all')
    const garbage = await enqueue({ kind: 'loudness', input: notAudio }, { redis: redis.url, queue: name, attempts: 3 })
    const badGraph = { format: 'ferrite-graph', version: 1, nodes: [{ id: 0, type: 'input' }, { id: 1, type: 'output' }, { id: 2, type: 'wobble' }], connections: [] }
    const graph = await enqueue({ kind: 'render', graph: badGraph, output: join(outDir, 'g.wav'), sampleRate: 48000, frames: 4800 }, { redis: redis.url, queue: name, attempts: 3 })
    const noDir = await enqueue({ kind: 'normalize', input: good, output: join(dir, 'no-such-dir', 'x.wav'), targetLufs: -16 }, { redis: redis.url, queue: name, attempts: 3 })
    // A producer that is not enqueue() (plain BullMQ) gets the same checks from the worker.
    const raw = await queue.add('normalize', { kind: 'normalize', input: good, output: join(outDir, 'y.wav'), targetLufs: 5 }, { attempts: 3 })
    const failed = await settled(queue, [missing.id, garbage.id, graph.id, noDir.id, raw.id!])
    const reasons = [/missing\.wav: no such file/, /notes\.txt: not an audio file/, /nodes\[2\].*unknown node type "wobble"/, /the directory .*no-such-dir does not exist/, /targetLufs = 5 must be in \[-70, 0\]/]
    for (const [i, job] of failed.entries()) {
      t.is(await job.getState(), 'failed')
      t.regex(job.failedReason, reasons[i])
      t.is(job.attemptsMade, 1, `${job.failedReason}: not retried`)
      t.is(job.stacktrace.length, 1)
      t.regex(job.stacktrace[0], /^UnrecoverableError/)
    }
    t.deepEqual(readdirSync(outDir), [])

    // The output's name is taken by a directory: the rename fails (EISDIR), the job
    // waits for its retry; with the directory gone, the second attempt succeeds.
    const blocked = join(outDir, 'blocked.wav')
    mkdirSync(blocked)
    const retry = await enqueue({ kind: 'normalize', input: good, output: blocked, targetLufs: -20 }, { redis: redis.url, queue: name, attempts: 3 })
    let job = (await queue.getJob(retry.id))!
    while (job.attemptsMade < 1) {
      await sleep(50)
      job = (await queue.getJob(retry.id))!
    }
    t.is(await job.getState(), 'delayed', 'waiting for its retry (exponential backoff)')
    t.regex(job.failedReason, /EISDIR/)
    rmSync(blocked, { recursive: true })
    ;[job] = await settled(queue, [retry.id])
    t.is(await job.getState(), 'completed')
    t.is(job.attemptsMade, 2)
    t.true(Math.abs(ffmpegLoudness(blocked).integratedLufs - -20) <= 0.2)
    t.deepEqual(readdirSync(outDir), ['blocked.wav'])
  } finally {
    await worker.close()
    await queue.close()
  }
})

test.serial("loudness and render jobs return analyzeFile's and renderToFile's results, as ffmpeg reads them", async (t) => {
  const name = 'results'
  const outDir = join(dir, 'results-out')
  mkdirSync(outDir)
  const worker = await startWorker({ redis: redis.url, queue: name, concurrency: 2 })
  const queue = new Queue(name, { connection: { url: redis.url } })
  try {
    const mp3 = fixture(dir, 'results.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k'])
    const silent = fixture(dir, 'silent.wav', ['-c:a', 'pcm_s16le'], 'anullsrc=r=44100:cl=stereo:d=2')
    const g = new Graph()
    g.chain(g.oscillator({ frequency: 1000, amplitude: 0.5 }), g.meter({ name: 'out' }), g.output)
    const output = join(outDir, 'tone.flac')
    const ids = [
      (await enqueue({ kind: 'loudness', input: mp3 }, { redis: redis.url, queue: name })).id,
      (await enqueue({ kind: 'loudness', input: silent }, { redis: redis.url, queue: name })).id,
      (await enqueue({ kind: 'render', graph: g.toJSON(), output, sampleRate: 48000, frames: 96000, channels: 2 }, { redis: redis.url, queue: name })).id,
    ]
    const [loud, quiet, render] = await settled(queue, ids)
    for (const j of [loud, quiet, render]) t.is(await j.getState(), 'completed', j.failedReason)

    const ref = ffmpegLoudness(mp3)
    const a = reviveNumbers<Awaited<ReturnType<typeof analyzeFile>>>(loud.returnvalue)
    t.true(Math.abs(a.integratedLufs - ref.integratedLufs) <= 0.2, `${a.integratedLufs} vs ffmpeg ${ref.integratedLufs}`)
    t.true(Math.abs(a.truePeakDb - ref.truePeakDb) <= 0.5)
    t.like(a.info, { format: 'mp3', codec: 'mp3', sampleRate: 44100, channels: 2 })
    // A silent file's loudness is -Infinity: JSON carries it as a string, reviveNumbers restores it.
    t.is(quiet.returnvalue.integratedLufs, '-Infinity')
    t.is(reviveNumbers<{ integratedLufs: number }>(quiet.returnvalue).integratedLufs, -Infinity)

    const r = reviveNumbers<{ frames: number; latencyFrames: number; meters: Record<string, { peakDb: number; integratedLufs: number }> }>(render.returnvalue)
    t.is(r.frames, 96000)
    t.is(r.latencyFrames, 0)
    t.true(Math.abs(r.meters.out.peakDb - 20 * Math.log10(0.5)) < 0.01, `${r.meters.out.peakDb}`)
    const written = ffmpegDecode(output, 2)
    t.is(written[0].length, 96000)
    const peak = written[0].reduce((m, x) => Math.max(m, Math.abs(x)), 0)
    t.true(Math.abs(peak - 0.5) < 1e-3, `${peak}`)
    t.true(Math.abs(ffmpegLoudness(output).integratedLufs - r.meters.out.integratedLufs) <= 0.2)
    t.deepEqual(readdirSync(outDir), ['tone.flac'])
  } finally {
    await worker.close()
    await queue.close()
  }
})

/** The lock test's render: several seconds on this 2-core machine, several lock lifetimes. */
const RENDER_EQS = 24
const RENDER_SECONDS = 240

test.serial('a long render keeps its lock under load: with a 1 s lock it is never reported stalled', async (t) => {
  const name = 'lock'
  const outDir = join(dir, 'lock-out')
  mkdirSync(outDir)
  // Two renders at once on this worker, each several lock lifetimes long.
  const w = new WorkerProcess(name, ['--concurrency', '2', '--lock-duration', '1000', '--stalled-interval', '500'])
  const queue = new Queue(name, { connection: { url: redis.url } })
  const events = new QueueEvents(name, { connection: { url: redis.url } })
  let stalled = 0
  events.on('stalled', () => stalled++)
  const progress: number[] = []
  events.on('progress', ({ data }) => progress.push(data as number))
  try {
    await events.waitUntilReady()
    await w.name()
    const g = new Graph()
    const chain = [g.oscillator({ type: 'saw', frequency: 110, amplitude: 0.5 })]
    for (let i = 0; i < RENDER_EQS; i++) chain.push(g.eq({ bands: [{ type: 'peaking', frequency: 200 + 300 * i, q: 1, gainDb: 1 }, { type: 'lowpass', frequency: 18000 }] }))
    g.chain(...chain, g.limiter({ ceilingDb: -1 }), g.meter({ name: 'out' }), g.output)
    const frames = 48000 * RENDER_SECONDS
    const ids = []
    for (let i = 0; i < 2; i++) ids.push((await enqueue({ kind: 'render', graph: g.toJSON(), output: join(outDir, `r${i}.wav`), sampleRate: 48000, frames, bitDepth: 16 }, { redis: redis.url, queue: name })).id)
    const done = await settled(queue, ids)
    for (const j of done) {
      t.is(await j.getState(), 'completed', j.failedReason)
      t.is(j.stalledCounter, 0)
      t.is(j.attemptsMade, 1)
      t.log(`render ${j.id}: ${((j.finishedOn! - j.processedOn!) / 1000).toFixed(1)} s with a 1000 ms lock`)
    }
    t.is(stalled, 0)
    t.is(reviveNumbers<{ frames: number }>(done[0].returnvalue).frames, frames)
    // Progress came from renderToFile's progress callback, in order, then 100.
    t.true(progress.some((p) => p > 0 && p < 100), `progress ${progress.join(',')}`)
    t.is(progress[progress.length - 1], 100)
  } finally {
    w.child.kill('SIGKILL')
    await events.close()
    await queue.close()
  }
})

test.serial('SIGTERM: the worker finishes the job it is running, takes no other, and exits 0', async (t) => {
  const name = 'sigterm'
  const outDir = join(dir, 'term-out')
  mkdirSync(outDir)
  const long = fixture(dir, 'term.wav', ['-c:a', 'pcm_s16le'], 'aevalsrc=0.5*sin(2*PI*997*t):s=44100:d=120')
  const w = new WorkerProcess(name)
  const queue = new Queue(name, { connection: { url: redis.url } })
  try {
    const worker = await w.name()
    const first = await enqueue({ kind: 'normalize', input: long, output: join(outDir, 'first.flac'), targetLufs: -18 }, { redis: redis.url, queue: name })
    const second = await enqueue({ kind: 'normalize', input: long, output: join(outDir, 'second.flac'), targetLufs: -18 }, { redis: redis.url, queue: name })
    await w.line(new RegExp(`job ${first.id} normalize: started`))
    w.child.kill('SIGTERM')
    t.is(await w.exited, 0, w.stderr)
    const j1 = (await queue.getJob(first.id))!
    t.is(await j1.getState(), 'completed')
    t.is(j1.processedBy, worker)
    t.is(await (await queue.getJob(second.id))!.getState(), 'waiting')
    t.true(w.lines.some((l) => /SIGTERM: finishing the running jobs/.test(l)))
    t.true(Math.abs(ffmpegLoudness(join(outDir, 'first.flac')).integratedLufs - -18) <= 0.2)
    t.deepEqual(readdirSync(outDir), ['first.flac'])
  } finally {
    w.child.kill('SIGKILL')
    await queue.obliterate({ force: true })
    await queue.close()
  }
})

/** Runs node with `args` (asynchronously: the other tests' workers share this event loop). */
function node(args: string[], cwd = root): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

test.serial('ferrite worker and the queue functions refuse bad options by name', async (t) => {
  const run = (args: string[]) => node([cli, 'worker', ...args])
  const cases: Array<[string[], RegExp]> = [
    [[], /worker needs --redis redis:\/\/HOST:PORT/],
    [['--redis', 'http://localhost:6379'], /--redis "http:\/\/localhost:6379" is not valid: it must start with redis:\/\//],
    [['--redis', redis.url, '--concurrency', '0'], /--concurrency "0" is not valid: a whole number from 1 to 256/],
    [['--redis', redis.url, '--concurrency', '0x2'], /--concurrency "0x2" is not valid/],
    [['--redis', redis.url, '--lock-duration', '10'], /--lock-duration "10" is not valid: a whole number of ms from 200/],
    [['--redis', redis.url, '--queue', 'a:b'], /--queue "a:b" is not valid/],
    [['--redis', redis.url, 'extra.wav'], /worker takes no file arguments/],
  ]
  for (const [args, re] of cases) {
    const r = await run(args)
    t.is(r.status, 2, args.join(' '))
    t.regex(r.stderr, re)
  }
  await t.throwsAsync(startWorker({ redis: redis.url, concurrency: 0 }), { instanceOf: RangeError, message: 'startWorker: concurrency = 0 must be a whole number from 1 to 256' })
  await t.throwsAsync(startWorker({ redis: 'localhost:6379' }), { instanceOf: TypeError, message: /must start with redis:\/\// })
  const o = { redis: redis.url }
  await t.throwsAsync(enqueue({ kind: 'normalize', input: 'a.wav', output: 'b.wav', targetLufs: 3 }, o), { instanceOf: RangeError, message: 'enqueue: targetLufs = 3 must be in [-70, 0]' })
  await t.throwsAsync(enqueue({ kind: 'transcode' } as never, o), { instanceOf: TypeError, message: /'kind' must be 'normalize', 'loudness' or 'render', got "transcode"/ })
  await t.throwsAsync(enqueue({ kind: 'loudness', input: 'a.wav', extra: 1 } as never, o), { instanceOf: TypeError, message: /unknown field 'extra'/ })
  await t.throwsAsync(enqueue({ kind: 'render', graph: {}, output: 'o.wav', sampleRate: 48000, frames: 0 }, o), { instanceOf: RangeError, message: /frames = 0/ })
  await t.throwsAsync(enqueue({ kind: 'loudness', input: 'a.wav' }, { ...o, attempts: 0 }), { instanceOf: RangeError, message: 'enqueue: attempts = 0 must be a whole number from 1 to 100' })
})

test.serial('ferrite-audio/queue loads from CommonJS and ESM; the package root never loads bullmq', async (t) => {
  const cjs = await node(['-e', "const q = require('ferrite-audio/queue'); console.log(typeof q.startWorker, typeof q.enqueue, typeof q.reviveNumbers)"])
  t.is(cjs.stdout.trim(), 'function function function', cjs.stderr)
  const esm = await node(['--input-type=module', '-e', "import { startWorker, enqueue } from 'ferrite-audio/queue'; import * as cjs from 'ferrite-audio/queue'; console.log(typeof startWorker, typeof enqueue, cjs.default.enqueue === enqueue)"])
  t.is(esm.stdout.trim(), 'function function true', esm.stderr)
  // queue.mjs lists the names by hand: the same as queue.js's, the same values.
  const same = await node(['--input-type=module', '-e', "import { createRequire } from 'node:module'; import * as esm from 'ferrite-audio/queue'; const cjs = createRequire(process.cwd() + '/')('ferrite-audio/queue'); const names = Object.keys(cjs); console.log(JSON.stringify([names.sort(), Object.keys(esm).filter((n) => n !== 'default').sort(), names.every((n) => esm[n] === cjs[n])]))"])
  const [cjsNames, esmNames, sameValues] = JSON.parse(same.stdout)
  t.deepEqual(esmNames, cjsNames)
  t.true(sameValues)
  const core = await node(['-e', "require('ferrite-audio'); console.log(Object.keys(require.cache).filter((p) => /[\\\\/](bullmq|ioredis)[\\\\/]/.test(p)).length)"])
  t.is(core.stdout.trim(), '0', core.stderr)
  // Without bullmq installed, the queue entry says what to install (the core still works).
  const hide = join(dir, 'no-bullmq.cjs')
  writeFileSync(hide, "const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...a) { if (req === 'bullmq') { const e = new Error(\"Cannot find module 'bullmq'\"); e.code = 'MODULE_NOT_FOUND'; throw e } return r.call(this, req, ...a) }")
  const missing = await node(['-r', hide, '-e', "require('ferrite-audio/queue').enqueue({ kind: 'loudness', input: 'a.wav' }, { redis: 'redis://127.0.0.1:1' }).catch((e) => console.log(e.message))"])
  t.is(missing.stdout.trim(), 'ferrite-audio/queue needs the bullmq package (an optional peer dependency of ferrite-audio): npm install bullmq@^5', missing.stderr)
  // The types: scripts/pack-test.sh type-checks them as a strict NodeNext consumer without bullmq.
})

test.serial("the README's queue example runs against a worker", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("from 'ferrite-audio/queue'"))
  t.truthy(block, 'the README has a js block using ferrite-audio/queue')
  const media = join(dir, 'media')
  mkdirSync(join(media, 'in'), { recursive: true })
  mkdirSync(join(media, 'out'))
  fixture(join(media, 'in'), 'ep1.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k'])
  const code = block!.replaceAll('redis://queue-host:6379', redis.url).replaceAll("'/media/", `'${media}/`)
  const file = join(root, '.readme-queue-example.mjs')
  writeFileSync(file, code)
  const worker = await startWorker({ redis: redis.url })
  try {
    const r = await node([file])
    t.is(r.status, 0, r.stderr)
    const [lufs, gainDb] = r.stdout.trim().split(' ').map(Number)
    t.true(Math.abs(lufs - -16) <= 0.1, r.stdout)
    t.true(Number.isFinite(gainDb))
    const queue = new Queue('ferrite', { connection: { url: redis.url } })
    try {
      const done = await settled(queue, ['1', '2', '3'])
      t.deepEqual(await Promise.all(done.map((j) => j.getState())), ['completed', 'completed', 'completed'])
    } finally {
      await queue.close()
    }
    t.deepEqual(readdirSync(join(media, 'out')).sort(), ['ep1.flac', 'tone.wav'])
  } finally {
    rmSync(file, { force: true })
    await worker.close()
  }
})
