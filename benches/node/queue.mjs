// What a job costs on the queue (ferrite-audio/queue, `ferrite worker`), against
// the same work called directly, and how long a killed worker's job waits.
//
//   npm run bench:queue                      # node benches/node/queue.mjs
//   FERRITE_BENCH_RUNS=5 npm run bench:queue # rounds of the 10-minute normalise (default 3)
//   FERRITE_BENCH_JOBS=400 npm run bench:queue # small jobs for the per-job overhead (default 200)
//
// Needs the native module built, bullmq installed (a dev dependency here),
// redis-server and ffmpeg (scripts/setup.sh installs both). Starts its own
// redis-server on a free loopback port, without persistence.
//
// Printed:
// 1. normalizeFile of a 10-minute 44.1 kHz stereo 16-bit WAV to WAV: called
//    directly in this process, and as a job run by a `ferrite worker` child
//    (from enqueue() returning to the job's completion, as a producer sees it;
//    and the worker's own processing time, processedOn to finishedOn). Medians.
// 2. Per-job overhead: N loudness jobs on a 0.5 s file through one worker
//    (concurrency 1), against N analyzeFile calls in a row in this process;
//    and the cost of one enqueue() call (it opens and closes a connection).
// 3. Recovery: a worker with the default lock (15 s) and stalled check (5 s)
//    is killed with SIGKILL while it runs a job; printed is the time until
//    another worker starts the job (at most lockDuration + stalledInterval).
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const { normalizeFile, analyzeFile } = require(join(root, 'index.js'))
const { enqueue } = require(join(root, 'queue.js'))
const { Queue } = require('bullmq')
const cli = join(root, 'bin', 'ferrite.js')
const RUNS = Number(process.env.FERRITE_BENCH_RUNS ?? 3)
const JOBS = Number(process.env.FERRITE_BENCH_JOBS ?? 200)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function startRedis(dir) {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => ((out += d), /Ready to accept/.test(out) && resolve()))
    child.on('exit', (c) => reject(new Error(`redis-server exited ${c}: ${out}`)))
  })
  return { url: `redis://127.0.0.1:${port}`, child }
}

function worker(url, queue, extra = []) {
  const child = spawn(process.execPath, [cli, 'worker', '--redis', url, '--queue', queue, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop()
    lines.push(...parts)
  })
  const line = async (re) => {
    for (;;) {
      const l = lines.find((x) => re.test(x))
      if (l) return l
      await sleep(5)
    }
  }
  return { child, lines, line }
}

async function finished(queue, id) {
  for (;;) {
    const job = await queue.getJob(id)
    const state = await job.getState()
    if (state === 'completed') return job
    if (state === 'failed') throw new Error(`job ${id} failed: ${job.failedReason}`)
    await sleep(5)
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ferrite-bench-queue-'))
const redis = await startRedis(dir)
try {
  console.log(`CPU: ${cpus()[0].model} × ${cpus().length}; bullmq ${require('bullmq/package.json').version}; ${execFileSync('redis-server', ['--version']).toString().split(' ').slice(0, 3).join(' ')}`)
  const ten = join(dir, 'ten.wav')
  const src = 'aevalsrc=0.5*sin(2*PI*997*t)+0.1*sin(2*PI*(200*t+10*t*t))|0.3*sin(2*PI*440*t)-0.2*sin(2*PI*3100*t):s=44100:d=600'
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', src, '-c:a', 'pcm_s16le', ten])
  const small = join(dir, 'small.wav')
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', src.replace('d=600', 'd=0.5'), '-c:a', 'pcm_s16le', small])
  mkdirSync(join(dir, 'out'))

  // 1. A 10-minute normalise, directly and as a job.
  const w = worker(redis.url, 'bench')
  await w.line(/ferrite worker \S+: queue/)
  const queue = new Queue('bench', { connection: { url: redis.url } })
  const direct = []
  const job = []
  const processing = []
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now()
    await normalizeFile(ten, join(dir, 'out', `direct-${r}.wav`), { targetLufs: -16 })
    direct.push(performance.now() - t0)
    const { id } = await enqueue({ kind: 'normalize', input: ten, output: join(dir, 'out', `job-${r}.wav`), targetLufs: -16 }, { redis: redis.url, queue: 'bench' })
    t0 = performance.now()
    const j = await finished(queue, id)
    job.push(performance.now() - t0)
    processing.push(j.finishedOn - j.processedOn)
  }
  console.log(`normalize 10 min WAV -> WAV: direct ${(median(direct) / 1000).toFixed(2)} s; as a job ${(median(job) / 1000).toFixed(2)} s (worker's processing ${(median(processing) / 1000).toFixed(2)} s); job/direct ${(median(job) / median(direct)).toFixed(3)} (median of ${RUNS})`)

  // 2. Per-job overhead, on small jobs.
  let t0 = performance.now()
  for (let i = 0; i < JOBS; i++) await analyzeFile(small)
  const directSmall = performance.now() - t0
  const ids = []
  const enqueueTimes = []
  for (let i = 0; i < JOBS; i++) {
    const e0 = performance.now()
    ids.push((await enqueue({ kind: 'loudness', input: small }, { redis: redis.url, queue: 'small' })).id)
    enqueueTimes.push(performance.now() - e0)
  }
  const ws = worker(redis.url, 'small')
  await ws.line(/ferrite worker \S+: queue/)
  t0 = performance.now()
  await finished(new Queue('small', { connection: { url: redis.url } }), ids[ids.length - 1])
  const queued = performance.now() - t0
  console.log(`${JOBS} loudness jobs on a 0.5 s WAV: direct ${(directSmall / JOBS).toFixed(2)} ms each; through one worker ${(queued / JOBS).toFixed(2)} ms each; overhead ${((queued - directSmall) / JOBS).toFixed(2)} ms per job; enqueue() ${median(enqueueTimes).toFixed(2)} ms per call (median)`)
  ws.child.kill('SIGTERM')

  // 3. Recovery with the default lock and stalled check.
  w.child.kill('SIGTERM')
  const a = worker(redis.url, 'recover')
  await a.line(/ferrite worker \S+: queue/)
  const { id } = await enqueue({ kind: 'normalize', input: ten, output: join(dir, 'out', 'recover.flac'), targetLufs: -16 }, { redis: redis.url, queue: 'recover' })
  await a.line(new RegExp(`job ${id} normalize: started`))
  const b = worker(redis.url, 'recover')
  await b.line(/ferrite worker \S+: queue/)
  a.child.kill('SIGKILL')
  const killed = performance.now()
  await b.line(new RegExp(`job ${id} normalize: started`))
  console.log(`SIGKILL to restart on another worker (lockDuration 15000, stalledInterval 5000): ${((performance.now() - killed) / 1000).toFixed(1)} s (at most 20 s)`)
  b.child.kill('SIGKILL')
} finally {
  redis.child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
// The Queue handles' connections would keep the process alive.
process.exit(0)
