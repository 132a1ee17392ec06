#!/usr/bin/env node
// The `ferrite` command line: render a graph file to WAV, list devices,
// probe and measure audio files, process jobs from a queue. Plain CommonJS
// over the package's public API.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

const HELP = `ferrite — the ferrite-audio command line

Usage:
  ferrite render <graph.json> --out <out.wav|out.flac> --seconds <N> [options]
      Renders a graph file (the Graph.toJSON() form) offline to a WAV or FLAC
      file, streamed in constant memory (temporary name, renamed when done).
      --out <file>          output .wav or .flac file (required)
      --seconds <N>         length in seconds (or --frames <N>)
      --frames <N>          length in frames
      --sample-rate <Hz>    default 48000
      --channels <N>        default 2
      --bit-depth <16|24|32>  default 24 (32 = float)
      --input <file>        any audio file, streamed (and resampled) into the graph's input
      --progress            always show the progress bar (default: when stderr is a terminal)
      --quiet               no progress bar, no summary
      --json                print the summary (and the graph's meters) as JSON

  ferrite loudness <file>... [--json]
      Integrated loudness (LUFS), loudness range (LU), true peak (dBTP) and
      sample peak (dBFS), EBU R128 / ITU-R BS.1770, measured as a meter node
      would. Any format (WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC/ALAC in M4A,
      CAF), streamed in constant memory; several files are measured in
      parallel (--json prints one array for several files). Files below
      8000 Hz are refused (BS.1770's K-weighting is undefined there).

  ferrite normalize <in> <out.wav|out.flac> --target <LUFS> [--true-peak <dBTP>] [--bit-depth 16|24|32] [--sample-rate <Hz>] [--json]
      Normalises integrated loudness to the target (within 0.1 LU) under a
      true-peak ceiling (default -1 dBTP, never exceeded), limiting only
      where the gain would cross it. Any input format.

  ferrite info <file>... [--json]
      Container, codec, sample rate, channels, length and bit depth, from the headers.

  ferrite worker --redis redis://HOST:PORT [--queue <name>] [--concurrency <N>]
      Processes normalize, loudness and render jobs from a BullMQ queue on
      Redis (jobs added with enqueue() from 'ferrite-audio/queue'), one line
      per job on stdout, until SIGTERM or SIGINT: then it finishes the jobs it
      is running and exits. Needs the bullmq package (npm install bullmq@^5).
      --queue <name>            default ferrite
      --concurrency <N>         jobs at once, default 1
      --lock-duration <ms>      a job's lock, renewed every half of it; default 15000
      --stalled-interval <ms>   how often expired locks are looked for; default 5000
                                (a killed worker's job restarts elsewhere within
                                lock-duration + stalled-interval)

  ferrite devices [--json]
      Lists the audio devices (ALSA's "null" device is one even without a sound card).

  ferrite --help | -h       this text
  ferrite --version | -v    the package version

Exit codes: 0 success, 1 failure (the message says why), 2 bad command line.`

class UsageError extends Error {}

function loadApi() {
  return require('../index.js')
}

/** The file functions alone (probeFile, analyzeFile): what `info` and
 * `loudness` need, without the graph and render modules they never use. */
function loadFiles() {
  return require('../ts/files.js')
}

/** Parses `args` into positionals and --flags; `valued` flags take the next argument. */
function parseArgs(args, valued, booleans) {
  const positionals = []
  const flags = {}
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      if (valued.includes(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : args[++i]
        if (v === undefined) throw new UsageError(`--${name} needs a value`)
        flags[name] = v
      } else if (booleans.includes(name) && eq < 0) {
        flags[name] = true
      } else {
        throw new UsageError(`unknown option --${name}`)
      }
    } else {
      positionals.push(a)
    }
  }
  return { positionals, flags }
}

/** A plain decimal number (`48000`, `-1.5`, `2e3`); not hex, binary, `Infinity` or blanks. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** `--name`'s number, or `fallback` without it; `want` says what is accepted. */
function numberFlag(flags, name, fallback, check, want) {
  if (flags[name] === undefined) return fallback
  const text = String(flags[name])
  const v = Number(text)
  if (!DECIMAL.test(text) || !Number.isFinite(v) || !check(v)) {
    throw new UsageError(`--${name} ${JSON.stringify(flags[name])} is not valid${want ? `: ${want}` : ''}`)
  }
  return v
}

/** The largest frame count a render takes (frames stay exact doubles). */
const MAX_FRAMES = 2 ** 52

function fmt(x, digits = 1) {
  if (x === -Infinity) return '-inf'
  if (x === Infinity) return '+inf'
  if (Number.isNaN(x)) return 'n/a'
  return x.toFixed(digits)
}

/** JSON where -Infinity/Infinity/NaN stay readable (as strings). */
function toJson(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), 2)
}

/** A progress bar on stderr, driven by the job's own progress (0..1). */
function progressBar(label, stream) {
  const width = 30
  const start = Date.now()
  let last = ''
  let lastDraw = 0
  const draw = (fraction, done) => {
    const now = Date.now()
    if (!done && now - lastDraw < (stream.isTTY ? 100 : 1000)) return
    lastDraw = now
    const filled = Math.round(width * fraction)
    const secs = ((now - start) / 1000).toFixed(1)
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${secs}s`
    if (line === last && !done) return
    last = line
    stream.write(stream.isTTY ? `\r${line}` : `${line}\n`)
  }
  draw(0, true)
  return {
    update(fraction) {
      draw(Math.min(1, Math.max(0, fraction)), false)
    },
    finish() {
      draw(1, true)
      if (stream.isTTY) stream.write('\n')
    },
    fail() {
      if (stream.isTTY) stream.write('\n')
    },
  }
}

/** Largest graph file read (a graph with its buffers inline is a few MB). */
const MAX_GRAPH_BYTES = 256 * 1024 * 1024

function readGraphFile(api, file) {
  let text
  try {
    const st = fs.statSync(file)
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    if (!st.isFile()) throw Object.assign(new Error('is not a regular file (a device, FIFO or socket)'), { code: 'ENOTREG' })
    if (st.size > MAX_GRAPH_BYTES) throw Object.assign(new Error(`is ${st.size} bytes; a graph file is at most ${MAX_GRAPH_BYTES}`), { code: 'EFBIG' })
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new Error(`cannot read graph file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  }
  let doc
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${e.message}`)
  }
  try {
    return api.Graph.fromJSON(doc)
  } catch (e) {
    throw new Error(`${file} is not a valid ferrite graph: ${e.message.replace(/^Graph\.fromJSON: /, '')}`)
  }
}

async function render(args) {
  const { positionals, flags } = parseArgs(
    args,
    ['out', 'seconds', 'frames', 'sample-rate', 'channels', 'bit-depth', 'input'],
    ['progress', 'quiet', 'json'],
  )
  if (positionals.length !== 1) throw new UsageError('render needs exactly one graph file: ferrite render <graph.json> --out out.wav --seconds N')
  if (!flags.out) throw new UsageError('render needs --out <file.wav>')
  const sampleRate = numberFlag(flags, 'sample-rate', 48000, (v) => Number.isInteger(v) && v >= 1000 && v <= 1536000, 'a whole number of Hz from 1000 to 1536000')
  const channels = numberFlag(flags, 'channels', 2, (v) => Number.isInteger(v) && v >= 1 && v <= 64, 'a whole number from 1 to 64')
  const bitDepth = numberFlag(flags, 'bit-depth', 24, (v) => v === 16 || v === 24 || v === 32, '16, 24 or 32')
  if ((flags.seconds === undefined) === (flags.frames === undefined)) throw new UsageError('render needs one of --seconds <N> or --frames <N>')
  const frames =
    flags.frames !== undefined
      ? numberFlag(flags, 'frames', 0, (v) => Number.isInteger(v) && v > 0 && v <= MAX_FRAMES, `a whole number of frames from 1 to 2^52`)
      : Math.round(numberFlag(flags, 'seconds', 0, (v) => v > 0 && Math.round(v * sampleRate) >= 1 && v * sampleRate <= MAX_FRAMES, `more than 0 and at most 2^52 frames at ${sampleRate} Hz`) * sampleRate)
  if (frames < 1) throw new UsageError('render length is under one frame')

  const api = loadApi()
  const graph = readGraphFile(api, positionals[0])
  const opts = { path: flags.out, sampleRate, frames, channels, bitDepth }
  // Any audio file feeds the graph's input, streamed and resampled to the render's rate.
  if (flags.input) opts.input = flags.input

  const showProgress = !flags.quiet && (flags.progress || process.stderr.isTTY)
  let bar = null
  if (showProgress) {
    bar = progressBar(`rendering ${path.basename(flags.out)}`, process.stderr)
    opts.onProgress = (done, total) => bar.update(done / total)
  }
  const ac = new AbortController()
  const onSignal = () => ac.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  opts.signal = ac.signal
  let result
  try {
    result = await api.renderToFile(graph, opts)
  } catch (e) {
    if (bar) bar.fail()
    throw e
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
  if (bar) bar.finish()
  const summary = { out: flags.out, frames, seconds: frames / sampleRate, sampleRate, channels, bitDepth, latencyFrames: result.latencyFrames, meters: result.meters }
  if (flags.json) {
    console.log(toJson(summary))
  } else if (!flags.quiet) {
    console.log(`wrote ${flags.out}: ${frames} frames (${fmt(frames / sampleRate, 3)} s), ${channels} ch, ${sampleRate} Hz, ${bitDepth === 32 ? '32-bit float' : `${bitDepth}-bit`}; latency ${result.latencyFrames} frames`)
    for (const [name, m] of Object.entries(result.meters)) {
      console.log(`meter ${name}: integrated ${fmt(m.integratedLufs)} LUFS, range ${fmt(m.loudnessRangeLu)} LU, true peak ${fmt(m.truePeakDb)} dBTP, peak ${fmt(m.peakDb)} dBFS, RMS ${fmt(m.rmsDb)} dBFS`)
    }
  }
}

/** Runs `job` over `items` with at most `limit` in flight; results in order. */
async function inParallel(items, limit, job) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await job(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

function loudnessSummary(file, a) {
  return {
    file,
    format: a.info.format,
    codec: a.info.codec,
    sampleRate: a.info.sampleRate,
    channels: a.info.channels,
    frames: a.info.frames,
    seconds: a.info.frames / a.info.sampleRate,
    integratedLufs: a.integratedLufs,
    loudnessRangeLu: a.loudnessRangeLu,
    truePeakDb: a.truePeakDb,
    samplePeakDb: a.peakDb,
    rmsDb: a.rmsDb,
    momentaryLufs: a.momentaryLufs,
    shortTermLufs: a.shortTermLufs,
  }
}

async function loudness(args) {
  const { positionals, flags } = parseArgs(args, [], ['json'])
  if (positionals.length === 0) throw new UsageError('loudness needs at least one file: ferrite loudness <file>...')
  const api = loadFiles()
  const cores = Math.max(1, require('node:os').availableParallelism())
  // Files are measured side by side, and the cores left over measure
  // segments of a long file at the same time (one file: every core).
  const threads = Math.max(1, Math.floor(cores / Math.min(cores, positionals.length)))
  // Every file is measured; a file that fails is reported and the others still are.
  const results = await inParallel(positionals, cores, async (file) => {
    try {
      return loudnessSummary(file, await api.analyzeFile(file, { threads }))
    } catch (e) {
      return { file, error: e.message }
    }
  })
  const failed = results.filter((r) => r.error)
  if (flags.json) {
    console.log(toJson(positionals.length === 1 && !failed.length ? results[0] : results))
  } else {
    for (const out of results) {
      if (out.error) continue
      console.log(`${out.file}: ${out.format}/${out.codec}, ${out.channels} ch, ${out.sampleRate} Hz, ${fmt(out.seconds, 3)} s`)
      console.log(`  Integrated loudness: ${fmt(out.integratedLufs)} LUFS`)
      console.log(`  Loudness range:      ${fmt(out.loudnessRangeLu)} LU`)
      console.log(`  True peak:           ${fmt(out.truePeakDb)} dBTP`)
      console.log(`  Sample peak:         ${fmt(out.samplePeakDb)} dBFS`)
    }
  }
  if (failed.length) throw new Error(failed.map((r) => r.error).join('\n'))
}

async function normalize(args) {
  const { positionals, flags } = parseArgs(args, ['target', 'true-peak', 'bit-depth', 'sample-rate'], ['json'])
  if (positionals.length !== 2) throw new UsageError('normalize needs an input and an output: ferrite normalize <in> <out.wav|out.flac> --target -16')
  if (flags.target === undefined) throw new UsageError('normalize needs --target <LUFS>')
  const targetLufs = numberFlag(flags, 'target', -16, (v) => v >= -70 && v <= 0, 'LUFS from -70 to 0')
  const truePeakDb = numberFlag(flags, 'true-peak', -1, (v) => v >= -30 && v <= 0, 'dBTP from -30 to 0')
  const bitDepth = numberFlag(flags, 'bit-depth', 24, (v) => v === 16 || v === 24 || v === 32, '16, 24 or 32')
  const o = { targetLufs, truePeakDb, bitDepth }
  // Loudness is measured at the output rate: BS.1770 is defined from 8000 Hz (see the meter's docs).
  if (flags['sample-rate'] !== undefined) o.sampleRate = numberFlag(flags, 'sample-rate', 48000, (v) => Number.isInteger(v) && v >= 8000 && v <= 1536000, 'a whole number of Hz from 8000 to 1536000')
  const [input, output] = positionals
  const r = await loadApi().normalizeFile(input, output, o)
  if (flags.json) {
    console.log(toJson({ input, output, ...r }))
    return
  }
  console.log(`${input} -> ${output}: gain ${fmt(r.gainDb, 2)} dB${r.limited ? ', true-peak limited' : ''}`)
  console.log(`  before: ${fmt(r.before.integratedLufs)} LUFS, true peak ${fmt(r.before.truePeakDb)} dBTP, range ${fmt(r.before.loudnessRangeLu)} LU`)
  console.log(`  after:  ${fmt(r.after.integratedLufs)} LUFS, true peak ${fmt(r.after.truePeakDb)} dBTP, range ${fmt(r.after.loudnessRangeLu)} LU`)
}

async function info(args) {
  const { positionals, flags } = parseArgs(args, [], ['json'])
  if (positionals.length === 0) throw new UsageError('info needs at least one file: ferrite info <file>...')
  const api = loadFiles()
  const results = await inParallel(positionals, 8, async (file) => {
    try {
      return await api.probeFile(file)
    } catch (e) {
      return { path: file, error: e.message }
    }
  })
  const failed = results.filter((r) => r.error)
  if (flags.json) {
    console.log(toJson(positionals.length === 1 && !failed.length ? results[0] : results))
  } else {
    for (const i of results) {
      if (i.error) continue
      const depth = i.bitDepth ? `, ${i.bitDepth}-bit` : ''
      console.log(`${i.path}: ${i.format}/${i.codec}${depth}, ${i.channels} ch, ${i.sampleRate} Hz, ${i.frames} frames (${fmt(i.frames / i.sampleRate, 3)} s)`)
    }
  }
  if (failed.length) throw new Error(failed.map((r) => r.error).join('\n'))
}

function devices(args) {
  const { positionals, flags } = parseArgs(args, [], ['json'])
  if (positionals.length) throw new UsageError(`devices takes no arguments (got ${positionals.join(' ')})`)
  const list = loadApi().listDevices()
  if (flags.json) {
    console.log(toJson(list))
    return
  }
  if (list.length === 0) {
    console.log('no audio devices')
    return
  }
  for (const d of list) {
    const rates = d.sampleRates.length ? d.sampleRates.join('/') + ' Hz' : 'rates unknown'
    console.log(`${d.isDefault ? '*' : ' '} ${d.id}${d.name && d.name !== d.id ? `  (${d.name})` : ''}  out ${d.outputChannels}, in ${d.inputChannels}, ${rates}`)
  }
  if (list.some((d) => d.isDefault)) console.log('(* default)')
}

async function worker(args) {
  const { positionals, flags } = parseArgs(args, ['redis', 'queue', 'concurrency', 'lock-duration', 'stalled-interval'], [])
  if (positionals.length) throw new UsageError(`worker takes no file arguments (got ${positionals.join(' ')})`)
  if (flags.redis === undefined) throw new UsageError('worker needs --redis redis://HOST:PORT')
  let url
  try {
    url = new URL(flags.redis)
  } catch {
    throw new UsageError(`--redis ${JSON.stringify(flags.redis)} is not valid: a URL such as redis://HOST:PORT`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new UsageError(`--redis ${JSON.stringify(flags.redis)} is not valid: it must start with redis:// or rediss://`)
  // Jobs on stdout, the worker's errors (Redis unreachable: it retries) on stderr.
  const log = (line) => (line.startsWith('error: ') ? console.error : console.log)(`${new Date().toISOString()} ${line}`)
  const o = { redis: flags.redis, log }
  if (flags.queue !== undefined) {
    if (flags.queue === '' || flags.queue.includes(':')) throw new UsageError(`--queue ${JSON.stringify(flags.queue)} is not valid: a non-empty name without ':'`)
    o.queue = flags.queue
  }
  o.concurrency = numberFlag(flags, 'concurrency', 1, (v) => Number.isInteger(v) && v >= 1 && v <= 256, 'a whole number from 1 to 256')
  o.lockDuration = numberFlag(flags, 'lock-duration', 15000, (v) => Number.isInteger(v) && v >= 200 && v <= 3600000, 'a whole number of ms from 200 to 3600000')
  o.stalledInterval = numberFlag(flags, 'stalled-interval', 5000, (v) => Number.isInteger(v) && v >= 100 && v <= 3600000, 'a whole number of ms from 100 to 3600000')
  const { startWorker } = require('../queue.js')
  const w = await startWorker(o)
  const queue = o.queue ?? 'ferrite'
  console.log(`${new Date().toISOString()} ferrite worker ${require('node:os').hostname()}:${process.pid}: queue ${queue} on ${url.host}, concurrency ${o.concurrency}, lock ${o.lockDuration} ms, stalled check every ${o.stalledInterval} ms`)
  // The first SIGTERM/SIGINT finishes the running jobs (taking no more) and exits;
  // a second one exits at once (the jobs' locks expire and another worker takes them).
  await new Promise((resolve, reject) => {
    let stopping = false
    const stop = (signal) => {
      if (stopping) {
        process.stderr.write(`ferrite worker: ${signal} again: exiting now\n`)
        process.exit(1)
      }
      stopping = true
      console.log(`${new Date().toISOString()} ${signal}: finishing the running jobs, then exiting`)
      w.close().then(resolve, reject)
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
  console.log(`${new Date().toISOString()} ferrite worker: stopped`)
}

async function main(argv) {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP)
    return command === undefined ? 2 : 0
  }
  if (command === '--version' || command === '-v') {
    console.log(require('../package.json').version)
    return 0
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP)
    return 0
  }
  switch (command) {
    case 'render':
      await render(rest)
      return 0
    case 'loudness':
      await loudness(rest)
      return 0
    case 'info':
      await info(rest)
      return 0
    case 'normalize':
      await normalize(rest)
      return 0
    case 'devices':
      devices(rest)
      return 0
    case 'worker':
      await worker(rest)
      return 0
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`ferrite: ${e.message}\nRun 'ferrite --help' for usage.\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`ferrite: ${e && e.message ? e.message : String(e)}\n`)
      process.exitCode = 1
    }
  },
)
