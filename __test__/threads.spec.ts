import test from 'ava'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Graph, AutomationLane, renderOffline, renderToFile } from '../index'
import { noise } from './helpers'

// 24 tracks (oscillator or player → eq → compressor or lookahead limiter →
// pan, some metered) into a master gain, limiter and meter, with the
// render input mixed in and automation on a track and the master.
function session(tracks = 24): Graph {
  const g = new Graph()
  const master = g.gain({ gain: 0.1 })
  const limiter = g.limiter({ ceilingDb: -1 })
  g.chain(master, limiter, g.meter({ name: 'master' }), g.output)
  g.connect(g.input, master)
  for (let t = 0; t < tracks; t++) {
    const src = t % 6 === 5
      ? g.player({ channels: [noise(5000, t + 1)], loop: true })
      : g.oscillator({ type: (['saw', 'sine', 'square', 'triangle'] as const)[t % 4], frequency: 55 + t * 7, amplitude: 0.3 })
    const eq = g.eq({ bands: [{ type: 'peaking', frequency: 200 + t * 10, gainDb: 4 }, { type: 'highshelf', frequency: 5000, gainDb: -3 }] })
    const dyn = t % 4 === 3 ? g.limiter({ ceilingDb: -9, lookaheadMs: 1.5 }) : g.compressor({ thresholdDb: -20 })
    const pan = g.pan({ pan: (t / tracks) * 2 - 1 })
    g.chain(src, eq, dyn, pan)
    if (t % 5 === 1) g.chain(pan, g.meter({ name: `track ${t}` }), master)
    else g.connect(pan, master)
    if (t === 2) g.automate(pan, 'pan', new AutomationLane().add(0, -1).add(20000, 1, 'scurve'))
  }
  g.automate(master, 'gain', new AutomationLane().add(0, 0.1).add(15000, 0.15))
  return g
}

const bitsOf = (chs: Float32Array[]) => chs.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64'))

test('renderOffline gives the same samples, meters and latency on 1 to 8 threads and by default', async (t) => {
  const g = session()
  const input = [noise(30000, 9)]
  const opts = { sampleRate: 48000, frames: 30000, input }
  const one = await renderOffline(g, { ...opts, threads: 1 })
  const peak = one.channels[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  t.true(peak > 0.05, `real signal: ${peak}`)
  t.true(one.latencyFrames > 0)
  t.deepEqual(Object.keys(one.meters).sort(), ['master', 'track 1', 'track 11', 'track 16', 'track 21', 'track 6'])
  for (const threads of [2, 3, 4, 8, undefined]) {
    const r = await renderOffline(g, { ...opts, threads })
    t.deepEqual(bitsOf(r.channels), bitsOf(one.channels), `threads ${threads}`)
    t.is(r.latencyFrames, one.latencyFrames)
    t.deepEqual(r.meters, one.meters, `threads ${threads}`)
  }
  for (const blockSize of [1, 37]) {
    const r = await renderOffline(g, { ...opts, frames: 6000, input: [input[0].subarray(0, 6000)], blockSize, threads: 2 })
    const want = one.channels.map((c) => c.subarray(0, 6000))
    t.deepEqual(bitsOf(r.channels), bitsOf(want), `block ${blockSize}`)
  }
})

test('a mix of plain oscillators, split in two halves on 2 threads, gives the samples of one thread', async (t) => {
  const g = new Graph()
  const master = g.gain({ gain: 0.8 })
  g.chain(master, g.meter({ name: 'master' }), g.output)
  const types = ['saw', 'sine', 'square', 'triangle'] as const
  for (let i = 0; i < 40; i++) {
    const track = [g.oscillator({ type: types[i % 4], frequency: 50 + i * 17.3 }), g.gain({ gain: 1 / 40 })]
    if (i % 6 === 5) track.push(g.pan({ pan: -0.5 + i / 40 }))
    g.chain(...track, master)
  }
  const opts = { sampleRate: 48000, frames: 20000 }
  const one = await renderOffline(g, { ...opts, threads: 1 })
  const peak = one.channels[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  t.true(peak > 0.05, `real signal: ${peak}`)
  t.notDeepEqual(bitsOf(one.channels.slice(0, 1)), bitsOf(one.channels.slice(1)), 'the pans make the channels differ')
  for (const threads of [2, 4, undefined]) {
    const r = await renderOffline(g, { ...opts, threads })
    t.deepEqual(bitsOf(r.channels), bitsOf(one.channels), `threads ${threads}`)
    t.deepEqual(r.meters, one.meters)
  }
  const r = await renderOffline(g, { ...opts, frames: 3000, blockSize: 37, threads: 2 })
  t.deepEqual(bitsOf(r.channels), bitsOf(one.channels.map((c) => c.subarray(0, 3000))), 'block 37')
})

test('renderToFile writes the same file on 1 and 2 threads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-threads-'))
  try {
    const g = session(16)
    const a = join(dir, 'one.wav')
    const b = join(dir, 'two.wav')
    const ra = await renderToFile(g, { path: a, sampleRate: 48000, frames: 40000, bitDepth: 32, threads: 1 })
    const rb = await renderToFile(g, { path: b, sampleRate: 48000, frames: 40000, bitDepth: 32, threads: 2 })
    t.deepEqual(rb.meters, ra.meters)
    const fa = readFileSync(a)
    t.true(fa.length > 40000 * 2 * 4)
    t.true(fa.equals(readFileSync(b)))
    const r1 = await renderOffline(g, { sampleRate: 48000, frames: 40000, threads: 1 })
    // The float WAV holds the render's samples (after a 44-byte or longer header).
    const data = new Float32Array(fa.buffer.slice(fa.byteOffset + fa.length - 40000 * 8, fa.byteOffset + fa.length))
    t.is(data[2 * 12345 + 1], r1.channels[1][12345])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('threads must be a whole number from 1 to 64', async (t) => {
  const g = session(2)
  for (const bad of [0, -1, 1.5, 65, NaN, Infinity]) {
    const e = await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 10, threads: bad }))
    t.true(e instanceof RangeError, `${bad}: ${e?.name}`)
    t.regex(e!.message, /^renderOffline: (threads = .* must be a whole number in \[1, 64\]|'threads' = .* must be a finite number)$/)
    const f = await t.throwsAsync(renderToFile(g, { path: join(tmpdir(), 'never.wav'), sampleRate: 48000, frames: 10, threads: bad }))
    t.true(f instanceof RangeError)
    t.regex(f!.message, /^renderToFile: .*threads/)
  }
  const e = await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 10, threads: '2' as unknown as number }))
  t.true(e instanceof TypeError)
  t.is(e!.message, "renderOffline: 'threads' must be a number, got \"2\"")
  t.true(availableParallelism() >= 1)
})
