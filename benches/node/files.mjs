// ferrite-audio vs ffmpeg on audio files: loudness analysis speed and peak memory.
//
//   npm run bench:files                          # node benches/node/files.mjs
//   FERRITE_BENCH_RUNS=9 npm run bench:files     # rounds per format (default 5)
//   FERRITE_BENCH_FILES_DIR=/some/dir npm run bench:files  # fixture cache (default $TMPDIR/ferrite-bench-files)
//   FERRITE_BENCH_FILES_SKIP=memory npm run bench:files    # leave out 'speed' or 'memory'
//
// Needs the native module built (`npm run build`), ffmpeg (with libmp3lame) and
// GNU time (/usr/bin/time). Run as root on Debian/Ubuntu, the script installs
// the missing ones with apt-get (packages `ffmpeg` and `time`), as
// scripts/setup.sh does; otherwise it says what to install.
//
// Fixtures, made once with ffmpeg and kept in the cache directory:
// - a 3-minute 44.1 kHz stereo programme with dynamics (pink noise, a different
//   seed per channel, under a slow envelope with quiet passages, plus two tones
//   per channel that swell and fade): deterministic (fixed noise seeds), written
//   as 16-bit WAV, FLAC (16-bit) and MP3 (libmp3lame, 192 kbps CBR);
// - the same programme ten times over as a 30-minute FLAC, for the memory runs.
//
// SPEED: the same work as the same kind of thing, a whole process that reads a
// file and prints its EBU R128 reading:
//   ffmpeg -hide_banner -nostats -i F -af ebur128=peak=true -f null -
//   node bin/ferrite.js loudness F --json
// and, for reference, analyzeFile(F) inside this (warm) process. The three
// alternate within each round and their order rotates from round to round, so
// load drift on a shared machine hits all of them alike. Printed: the medians
// of the wall times, ffmpeg/ferrite (median against median, and the median of
// the ratios within each round), and the ratio of CPU time (user + system, from
// GNU time; for analyzeFile, process.cpuUsage) -- the steadier number on a
// loaded machine. ferrite decodes on one thread and meters on another, so its
// wall time can be under its CPU time; ffmpeg's ebur128 runs on one.
// Goals (the files issue): ferrite at least 5x faster than ffmpeg on WAV and
// FLAC, 3x on MP3, judged process against process (the like-for-like number);
// the in-process ratio is printed against the same goal for reference. The
// readings must agree: integrated loudness within 0.2 LU of ffmpeg's.
//
// MEMORY: peak resident set size (GNU time -v, "Maximum resident set size") of
//   ferrite loudness 30min.flac                                  goal < 150 MB
//   ferrite render graph.json --input 30min.flac --out out.flac --seconds 1800
//     (graph: input -> eq -> compressor -> meter -> output)      goal < 250 MB
//   ffmpeg ebur128 on 30min.flac                                 reference
// MB here is 2^20 bytes (GNU time reports kB = 1024 bytes).
//
// Absolute times on shared machines are noisy; the ratios, measured in one run
// under the same load, are what matters.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(ROOT, 'bin', 'ferrite.js')
const RUNS = Math.max(1, Math.round(envNumber('FERRITE_BENCH_RUNS', 5)))
const CACHE = process.env.FERRITE_BENCH_FILES_DIR || path.join(os.tmpdir(), 'ferrite-bench-files')
const SKIP = new Set((process.env.FERRITE_BENCH_FILES_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean))
const GNU_TIME = '/usr/bin/time'
const AGREE_LU = 0.2
const SR = 44100
const SECONDS = 180
const LONG_REPEATS = 10 // 30 minutes
// Bump when the fixtures' recipe changes, so old cached files are not reused.
const FIXTURE_VERSION = 1
// The environment without NODE_EXTRA_CA_CERTS (null when it is not set).
const BARE_ENV = process.env.NODE_EXTRA_CA_CERTS
  ? Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'))
  : null
// node's own start-up, with the environment as it is and without the CA bundle (filled in by speed()).
const NODE_START = { asIs: NaN, bare: NaN }

function envNumber(name, dflt) {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const x = Number(v)
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`${name}=${v} must be a positive number`)
  return x
}

/** The median of `xs` (NaN when empty). */
function median(xs) {
  if (xs.length === 0) return NaN
  const v = [...xs].sort((a, b) => a - b)
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

const pad = (s, n) => String(s).padEnd(n)
const lpad = (s, n) => String(s).padStart(n)
const errText = (e) => String(e?.message ?? e).trim().split('\n').slice(0, 6).join('\n    ')
const fmt = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : x === -Infinity ? '-inf' : 'n/a')
const mb = (kb) => kb / 1024

function printTable(head, body, rightFrom = 1) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)))
  const line = (cells) => cells.map((s, i) => (i >= rightFrom && i < head.length - 1 ? lpad(s, widths[i]) : pad(s, widths[i]))).join(' | ').trimEnd()
  console.log(line(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const b of body) console.log(line(b))
}

// ---------------------------------------------------------------------------
// Tools

function works(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    return r.status === 0 ? `${r.stdout}${r.stderr}` : null
  } catch {
    return null
  }
}

const hasFfmpeg = () => works('ffmpeg', ['-hide_banner', '-version']) !== null
const hasGnuTime = () => /Maximum resident set size/.test(works(GNU_TIME, ['-v', 'true']) ?? '')

/** Installs ffmpeg and GNU time with apt-get when they are missing and we are root; else says what to install. */
function ensureTools() {
  const missing = []
  if (!hasFfmpeg()) missing.push('ffmpeg')
  if (!hasGnuTime()) missing.push('time')
  if (missing.length === 0) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (root && works('apt-get', ['--version']) !== null) {
    console.log(`installing ${missing.join(' ')} (apt-get)...`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const u = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
    const i = u.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env }) : u
    if (i.status !== 0) console.log(`apt-get failed (exit ${i.status}); install by hand: sudo apt-get install ${missing.join(' ')}`)
  } else {
    console.log(`missing: ${missing.join(', ')}; install with: sudo apt-get install ${missing.join(' ')} (Debian/Ubuntu), or your system's packages for ffmpeg and GNU time`)
  }
}

/**
 * Runs `cmd args` to completion (under GNU time -v when available) and returns
 * wall ms (measured here), CPU ms (user + system) and peak RSS in kB (from GNU
 * time), exit status, stdout and stderr.
 */
function runTimed(cmd, args, useTime, env = process.env) {
  const stats = path.join(CACHE, `time-${process.pid}.txt`)
  const [c, a] = useTime ? [GNU_TIME, ['-v', '-o', stats, cmd, ...args]] : [cmd, args]
  const t0 = process.hrtime.bigint()
  const r = spawnSync(c, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28, cwd: ROOT, env })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.error) throw r.error
  const out = { ms, cpuMs: NaN, maxRssKb: NaN, status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
  if (useTime && existsSync(stats)) {
    const t = readFileSync(stats, 'utf8')
    rmSync(stats, { force: true })
    const num = (re) => Number(re.exec(t)?.[1] ?? NaN)
    out.cpuMs = 1000 * (num(/User time \(seconds\):\s*([\d.]+)/) + num(/System time \(seconds\):\s*([\d.]+)/))
    out.maxRssKb = num(/Maximum resident set size \(kbytes\):\s*(\d+)/)
  }
  if (r.status !== 0) {
    const tail = out.stderr.trim().split('\n').slice(-4).join('\n    ')
    throw new Error(`${path.basename(cmd)} exited with ${r.status ?? r.signal}:\n    ${tail}`)
  }
  return out
}

// ---------------------------------------------------------------------------
// Fixtures

function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr}`)
}

/** `CACHE/name`, made once by `make(tmpPath)` (a temporary name, renamed when complete). */
function cached(name, make) {
  const p = path.join(CACHE, name)
  if (existsSync(p)) return p
  const tmp = path.join(CACHE, `tmp-${name}`)
  const t0 = Date.now()
  process.stderr.write(`  making ${name}...`)
  try {
    make(tmp)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  renameSync(tmp, p)
  process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  return p
}

// The programme: per channel, pink noise (fixed seed) times a slow envelope
// (about -30 dB to 0 dB, periods of 37 and 41 s so the channels drift apart),
// plus two tones with their own slow swells. Peaks stay well under full scale.
const PROGRAMME = [
  `anoisesrc=c=pink:r=${SR}:a=0.5:seed=7:d=${SECONDS}[n0]`,
  `anoisesrc=c=pink:r=${SR}:a=0.5:seed=11:d=${SECONDS}[n1]`,
  '[n0][n1]join=inputs=2:channel_layout=stereo[n]',
  `aevalsrc='0.03+0.97*pow(0.5+0.5*sin(2*PI*t/37)\\,3)|0.03+0.97*pow(0.5+0.5*sin(2*PI*t/41+1)\\,3)':s=${SR}:d=${SECONDS}[env]`,
  '[n][env]amultiply[shaped]',
  `aevalsrc='0.12*sin(2*PI*220*t)*(0.5+0.5*sin(2*PI*t/11))+0.05*sin(2*PI*1250*t)|0.1*sin(2*PI*330*t)*(0.5+0.5*cos(2*PI*t/13))+0.04*sin(2*PI*2750*t)':s=${SR}:d=${SECONDS}[tones]`,
  '[shaped][tones]amix=inputs=2:normalize=0:duration=shortest[out]',
].join(';')

/** The fixtures' paths; one that cannot be made (e.g. no MP3 encoder) is null, with the error printed. */
function makeFixtures() {
  mkdirSync(CACHE, { recursive: true })
  const v = `v${FIXTURE_VERSION}`
  const tryMake = (name, make) => {
    try {
      return cached(name, make)
    } catch (e) {
      process.stderr.write('\n')
      console.log(`making ${name} FAILED: ${errText(e)}`)
      return null
    }
  }
  const wav = tryMake(`programme-3min-${v}.wav`, (tmp) => ffmpeg(['-filter_complex', PROGRAMME, '-map', '[out]', '-c:a', 'pcm_s16le', '-f', 'wav', tmp]))
  if (!wav) return null
  return {
    wav,
    flac: tryMake(`programme-3min-${v}.flac`, (tmp) => ffmpeg(['-i', wav, '-c:a', 'flac', '-sample_fmt', 's16', '-f', 'flac', tmp])),
    mp3: tryMake(`programme-3min-${v}.mp3`, (tmp) => ffmpeg(['-i', wav, '-c:a', 'libmp3lame', '-b:a', '192k', '-f', 'mp3', tmp])),
    long: tryMake(`programme-30min-${v}.flac`, (tmp) =>
      ffmpeg(['-stream_loop', String(LONG_REPEATS - 1), '-i', wav, '-c:a', 'flac', '-sample_fmt', 's16', '-f', 'flac', tmp]),
    ),
  }
}

// ---------------------------------------------------------------------------
// The measurements

const FFMPEG_EBUR128 = (file) => ['-hide_banner', '-nostats', '-i', file, '-af', 'ebur128=peak=true', '-f', 'null', '-']
const FERRITE_LOUDNESS = (file) => [CLI, 'loudness', file, '--json']

/** ffmpeg's ebur128 summary (the last one in its log): integrated LUFS, LRA, true peak. */
function parseEbur128(stderr) {
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'))
  const num = (re) => {
    const m = re.exec(summary)
    if (!m) throw new Error(`no ${re} in ffmpeg's ebur128 summary`)
    return Number(m[1])
  }
  return { integratedLufs: num(/I:\s+(-?[\d.]+|-inf) LUFS/), loudnessRangeLu: num(/LRA:\s+(-?[\d.]+) LU/), truePeakDb: num(/True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS/) }
}

/** ferrite's CLI JSON (numbers that are not finite come as strings). */
function parseFerrite(stdout) {
  const j = JSON.parse(stdout)
  const n = (x) => (typeof x === 'string' ? Number(x) : x)
  return { integratedLufs: n(j.integratedLufs), loudnessRangeLu: n(j.loudnessRangeLu), truePeakDb: n(j.truePeakDb) }
}

function machineFacts() {
  let model = 'unknown'
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model
  } catch {}
  if (model === 'unknown') model = os.cpus()[0]?.model ?? model
  let ffmpegVersion = 'not installed'
  const v = works('ffmpeg', ['-hide_banner', '-version'])
  if (v) ffmpegVersion = /^ffmpeg version (\S+)/m.exec(v)?.[1] ?? v.split('\n')[0]
  let ferrite = '?'
  try {
    ferrite = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version
  } catch {}
  return {
    cpu: `${model} (${os.cpus().length} logical CPUs)`,
    node: process.version,
    ffmpeg: ffmpegVersion,
    ferrite,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  }
}

/** The median wall time of a process started `n` times (process start-up, for context). */
function startupMs(cmd, args, n = 3) {
  const ms = []
  for (let i = 0; i < n; i++) ms.push(runTimed(cmd, args, false).ms)
  return median(ms)
}

async function speed(files, api, useTime) {
  if (BARE_ENV) {
    NODE_START.asIs = startupMs(process.execPath, ['-e', '0'], 5)
    NODE_START.bare = median([0, 1, 2, 3, 4].map(() => runTimed(process.execPath, ['-e', '0'], false, BARE_ENV).ms))
  }
  const formats = [
    { name: 'WAV', file: files.wav, goal: 5 },
    { name: 'FLAC', file: files.flac, goal: 5 },
    { name: 'MP3', file: files.mp3, goal: 3 },
  ].filter((f) => f.file)
  const rows = []
  for (const f of formats) {
    const times = { ffmpeg: [], cli: [], bare: [], inproc: [] }
    const cpu = { ffmpeg: [], cli: [], bare: [], inproc: [] }
    const reading = {}
    const errors = []
    const jobs = {
      ffmpeg: () => {
        const r = runTimed('ffmpeg', FFMPEG_EBUR128(f.file), useTime)
        reading.ffmpeg ??= parseEbur128(r.stderr)
        return r
      },
      cli: () => {
        const r = runTimed(process.execPath, FERRITE_LOUDNESS(f.file), useTime)
        reading.cli ??= parseFerrite(r.stdout)
        return r
      },
      // The same process without NODE_EXTRA_CA_CERTS, when it is set: node
      // reads and parses that CA bundle at start-up, before any script, a
      // cost of the environment that every node process pays.
      bare: BARE_ENV
        ? () => {
            const r = runTimed(process.execPath, FERRITE_LOUDNESS(f.file), useTime, BARE_ENV)
            reading.bare ??= parseFerrite(r.stdout)
            return r
          }
        : null,
      inproc: api
        ? async () => {
            const c0 = process.cpuUsage()
            const t0 = process.hrtime.bigint()
            const a = await api.analyzeFile(f.file)
            const ms = Number(process.hrtime.bigint() - t0) / 1e6
            const c = process.cpuUsage(c0)
            reading.inproc ??= { integratedLufs: a.integratedLufs, loudnessRangeLu: a.loudnessRangeLu, truePeakDb: a.truePeakDb }
            return { ms, cpuMs: (c.user + c.system) / 1000 }
          }
        : null,
    }
    const names = Object.keys(jobs).filter((k) => jobs[k])
    // Warm-up: one untimed in-process analysis (loads the binding, spins up its threads,
    // brings the file into the page cache for everyone).
    if (jobs.inproc) {
      try {
        await api.analyzeFile(f.file)
      } catch (e) {
        errors.push(`analyzeFile: ${errText(e)}`)
        names.splice(names.indexOf('inproc'), 1)
      }
    }
    // Per round: each job once, the order rotated; a round's ratios pair the same load.
    const paired = { cli: [], bare: [], inproc: [] }
    for (let run = 0; run < RUNS; run++) {
      const order = names.map((_, i) => names[(i + run) % names.length])
      const got = {}
      for (const k of order) {
        try {
          got[k] = await jobs[k]()
          times[k].push(got[k].ms)
          if (Number.isFinite(got[k].cpuMs)) cpu[k].push(got[k].cpuMs)
        } catch (e) {
          errors.push(`${k === 'ffmpeg' ? 'ffmpeg' : k === 'cli' || k === 'bare' ? 'ferrite loudness' : 'analyzeFile'} (round ${run + 1}): ${errText(e)}`)
          names.splice(names.indexOf(k), 1) // one failure is enough: stop timing it
        }
      }
      for (const k of ['cli', 'bare', 'inproc']) if (got.ffmpeg && got[k]) paired[k].push(got.ffmpeg.ms / got[k].ms)
    }
    const med = Object.fromEntries(Object.keys(times).map((k) => [k, median(times[k])]))
    const medCpu = Object.fromEntries(Object.keys(cpu).map((k) => [k, median(cpu[k])]))
    rows.push({ ...f, runs: RUNS, med, medCpu, paired: { cli: median(paired.cli), bare: median(paired.bare), inproc: median(paired.inproc) }, reading, errors })
    process.stderr.write(`  ${f.name} done\n`)
  }
  return rows
}

function printSpeed(rows) {
  const x = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a')
  const met = (r, goal) => (Number.isFinite(r) ? (r >= goal ? 'MET' : 'NOT MET') : 'n/a')
  const ms = (v) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a')
  console.log('SPEED: whole-file EBU R128 analysis (integrated, LRA, true peak); wall ms are medians')
  printTable(
    ['format', 'size MB', 'runs', 'ffmpeg ms', 'ferrite ms', 'ffmpeg/ferrite', 'paired', 'CPU ms ffmpeg/ferrite', 'CPU ratio', 'in-proc ms', 'ffmpeg/in-proc', 'goal'],
    rows.map((r) => [
      r.name,
      fmt(statSync(r.file).size / 2 ** 20, 1),
      String(r.runs),
      ms(r.med.ffmpeg),
      ms(r.med.cli),
      x(r.med.ffmpeg / r.med.cli),
      x(r.paired.cli),
      `${ms(r.medCpu.ffmpeg)}/${ms(r.medCpu.cli)}`,
      x(r.medCpu.ffmpeg / r.medCpu.cli),
      ms(r.med.inproc),
      x(r.med.ffmpeg / r.med.inproc),
      `>=${r.goal}x: process ${met(r.med.ffmpeg / r.med.cli, r.goal)}, in-proc ${met(r.med.ffmpeg / r.med.inproc, r.goal)}`,
    ]),
  )
  if (BARE_ENV) {
    console.log('')
    console.log('The same ferrite process with NODE_EXTRA_CA_CERTS unset (this environment sets it; node parses that')
    console.log(`CA bundle at start-up: node -e 0 takes ${ms(NODE_START.asIs)} ms with it, ${ms(NODE_START.bare)} ms without):`)
    printTable(
      ['format', 'ffmpeg ms', 'ferrite ms', 'ffmpeg/ferrite', 'paired', 'goal'],
      rows.map((r) => [r.name, ms(r.med.ffmpeg), ms(r.med.bare), x(r.med.ffmpeg / r.med.bare), x(r.paired.bare), `>=${r.goal}x: ${met(r.med.ffmpeg / r.med.bare, r.goal)}`]),
    )
  }
  console.log('ffmpeg   = ffmpeg -hide_banner -nostats -i F -af ebur128=peak=true -f null -   (a process)')
  console.log('ferrite  = node bin/ferrite.js loudness F --json                                (a process)')
  console.log('in-proc  = await analyzeFile(F) in this warm node process (no process start-up), for reference')
  console.log('ffmpeg/ferrite = median against median; paired = median over rounds of the ratio within a round;')
  console.log('CPU = user + system time (GNU time; process.cpuUsage for in-proc), median: steadier than wall time on a loaded machine.')
  console.log('')
  console.log(`READINGS (first run of each; agree = integrated within ${AGREE_LU} LU of ffmpeg's)`)
  const body = []
  for (const r of rows) {
    const ff = r.reading.ffmpeg
    let first = true
    for (const [k, label] of [
      ['ffmpeg', 'ffmpeg ebur128'],
      ['cli', 'ferrite loudness'],
      ['inproc', 'analyzeFile'],
    ]) {
      const v = r.reading[k]
      if (!v) continue
      const d = ff && k !== 'ffmpeg' ? v.integratedLufs - ff.integratedLufs : NaN
      body.push([
        first ? r.name : '',
        label,
        fmt(v.integratedLufs, 2),
        k === 'ffmpeg' ? '' : fmt(d, 2),
        fmt(v.loudnessRangeLu, 2),
        fmt(v.truePeakDb, 2),
        k === 'ffmpeg' || !Number.isFinite(d) ? '' : Math.abs(d) <= AGREE_LU ? 'agree' : 'DISAGREE',
      ])
      first = false
    }
  }
  printTable(['format', 'reader', 'integrated LUFS', 'diff LU', 'LRA LU', 'true peak dBTP', 'check'], body, 2)
  console.log('(ffmpeg prints its summary to 0.1 LU / 0.1 dB, so differences under 0.05 are rounding.)')
  for (const r of rows) for (const e of r.errors) console.log(`${r.name}: FAILED ${e}`)
}

async function memory(files, useTime) {
  if (!useTime) {
    console.log('MEMORY: skipped, GNU time (/usr/bin/time) is not installed (apt-get install time)')
    return
  }
  if (!files.long) {
    console.log('MEMORY: skipped, the 30-minute FLAC could not be made')
    return
  }
  const long = files.long
  let durationS = NaN
  const work = path.join(CACHE, `work-${process.pid}`)
  mkdirSync(work, { recursive: true })
  const graphPath = path.join(work, 'graph.json')
  const outPath = path.join(work, 'out.flac')
  const rows = []
  const failures = []
  const step = (label, goalMb, fn) => {
    try {
      const r = fn()
      rows.push({ label, goalMb, ...r })
    } catch (e) {
      failures.push(`${label}: ${errText(e)}`)
    }
    process.stderr.write(`  ${label.split(' ').slice(0, 2).join(' ')} done\n`)
  }

  step('ferrite loudness 30min.flac', 150, () => {
    const r = runTimed(process.execPath, FERRITE_LOUDNESS(long), true)
    const j = JSON.parse(r.stdout)
    durationS = j.seconds
    const v = parseFerrite(r.stdout)
    return { ...r, note: `I ${fmt(v.integratedLufs, 2)} LUFS, LRA ${fmt(v.loudnessRangeLu, 2)} LU, TP ${fmt(v.truePeakDb, 2)} dBTP` }
  })

  step('ferrite render input->eq->compressor->meter 30min.flac -> out.flac', 250, () => {
    // The graph is made with the package's own Graph and written as JSON, as a user would.
    const { Graph } = loadedApi
    if (!Graph) throw new Error('the package did not load, so no graph could be made')
    const g = new Graph()
    g.chain(
      g.input,
      g.eq({
        bands: [
          { type: 'lowshelf', frequency: 120, gainDb: 2 },
          { type: 'peaking', frequency: 1000, q: 1, gainDb: -2 },
          { type: 'highshelf', frequency: 8000, gainDb: 1.5 },
        ],
      }),
      g.compressor({ thresholdDb: -24, ratio: 3, attackMs: 10, releaseMs: 150, kneeDb: 6, makeupDb: 2 }),
      g.meter({ name: 'out' }),
      g.output,
    )
    writeFileSync(graphPath, JSON.stringify(g))
    try {
      const r = runTimed(process.execPath, [CLI, 'render', graphPath, '--input', long, '--out', outPath, '--seconds', '1800', '--quiet', '--json'], true)
      const s = JSON.parse(r.stdout)
      const m = s.meters?.out
      const size = existsSync(outPath) ? statSync(outPath).size / 2 ** 20 : NaN
      return {
        ...r,
        note: `${s.sampleRate} Hz ${s.bitDepth}-bit, ${fmt(size, 0)} MB written${m ? `; meter: I ${fmt(Number(m.integratedLufs), 2)} LUFS, TP ${fmt(Number(m.truePeakDb), 2)} dBTP` : ''}`,
      }
    } finally {
      rmSync(outPath, { force: true })
    }
  })

  step('ffmpeg ebur128 30min.flac (reference)', null, () => {
    const r = runTimed('ffmpeg', FFMPEG_EBUR128(long), true)
    const v = parseEbur128(r.stderr)
    return { ...r, note: `I ${fmt(v.integratedLufs, 1)} LUFS, LRA ${fmt(v.loudnessRangeLu, 1)} LU, TP ${fmt(v.truePeakDb, 1)} dBTP` }
  })
  rmSync(work, { recursive: true, force: true })

  console.log(`MEMORY: peak RSS (GNU time -v, "Maximum resident set size") on the ${fmt(durationS / 60, 0)}-minute 44.1 kHz stereo FLAC (${fmt(statSync(long).size / 2 ** 20, 0)} MB)`)
  printTable(
    ['run', 'peak RSS MB', 'wall s', 'CPU s', 'goal', 'result'],
    rows.map((r) => [
      r.label,
      fmt(mb(r.maxRssKb), 1),
      fmt(r.ms / 1000, 1),
      fmt(r.cpuMs / 1000, 1),
      r.goalMb ? `< ${r.goalMb} MB ${mb(r.maxRssKb) < r.goalMb ? 'MET' : 'NOT MET'}` : 'reference',
      r.note ?? '',
    ]),
  )
  console.log('render: `ferrite render graph.json --input 30min.flac --out out.flac --seconds 1800` at its defaults (48 kHz, 24-bit):')
  console.log('the 44.1 kHz input is streamed and resampled to 48 kHz; the graph was written with JSON.stringify(graph). MB = 2^20 bytes.')
  for (const f of failures) console.log(`FAILED ${f}`)
}

// ---------------------------------------------------------------------------

let loadedApi = {}
const tStart = Date.now()
try {
  ensureTools()
} catch (e) {
  console.log(`checking/installing tools failed: ${errText(e)}`)
}
const facts = machineFacts()
const useTime = hasGnuTime()

console.log('ferrite-audio vs ffmpeg: audio files (EBU R128 analysis speed, peak memory)')
console.log(`cpu:     ${facts.cpu}`)
console.log(`node:    ${facts.node}; ferrite-audio ${facts.ferrite}; ffmpeg ${facts.ffmpeg}; GNU time ${useTime ? 'yes' : 'no (no CPU times, no memory runs)'}`)
console.log(`load average at start: ${facts.load}; ${RUNS} round${RUNS === 1 ? '' : 's'} per format; fixtures in ${CACHE}`)
console.log('Absolute times on a shared machine are noisy: the ratios, measured side by side in one run, are what matter.')

try {
  loadedApi = await import('../../index.mjs')
} catch (e) {
  console.log(`the package did not load (build it: npm run build): ${errText(e)}; in-process timings and the render are left out`)
}

if (!hasFfmpeg()) {
  console.log('ffmpeg is not installed: no fixtures and nothing to compare with (sudo apt-get install ffmpeg). Done.')
  process.exit(0)
}

let files = null
try {
  files = makeFixtures()
} catch (e) {
  console.log(`making the fixtures failed: ${errText(e)}`)
}

if (files) {
  try {
    const nodeStart = startupMs(process.execPath, [CLI, '--version'])
    const ffStart = startupMs('ffmpeg', ['-hide_banner', '-version'])
    console.log(`process start-up (median of 3): node bin/ferrite.js --version ${nodeStart.toFixed(0)} ms; ffmpeg -version ${ffStart.toFixed(0)} ms`)
  } catch (e) {
    console.log(`process start-up: FAILED ${errText(e)}`)
  }
  console.log('')
  if (!SKIP.has('speed')) {
    try {
      printSpeed(await speed(files, typeof loadedApi.analyzeFile === 'function' ? loadedApi : null, useTime))
    } catch (e) {
      console.log(`SPEED: FAILED ${errText(e)}`)
    }
    console.log('')
  }
  if (!SKIP.has('memory')) {
    try {
      await memory(files, useTime)
    } catch (e) {
      console.log(`MEMORY: FAILED ${errText(e)}`)
    }
    console.log('')
  }
}
console.log('Goals (the files issue): analysis >=5x ffmpeg on WAV and FLAC, >=3x on MP3 (process against process), readings within')
console.log(`${AGREE_LU} LU of ffmpeg's; peak RSS < 150 MB for loudness and < 250 MB for render over 30 minutes.`)
console.log(`total ${((Date.now() - tStart) / 1000).toFixed(1)} s`)
