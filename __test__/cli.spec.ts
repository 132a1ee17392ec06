// The `ferrite` CLI (bin/ferrite.js) and Graph.fromJSON, which it renders through.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Graph, AutomationLane, renderOffline, readWav, writeWav, listDevices } from '../index'

const root = join(__dirname, '..')
const cli = join(root, 'bin', 'ferrite.js')

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Parses the CLI's JSON, where non-finite numbers are strings. */
function parse(s: string): any {
  return JSON.parse(s, (_k, v) => (v === '-Infinity' ? -Infinity : v === 'Infinity' ? Infinity : v === 'NaN' ? NaN : v))
}

let dir: string
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferrite-cli-'))
})
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
})

test('Graph.fromJSON rebuilds every node type, connection and lane, keeping ids', (t) => {
  const g = new Graph()
  const osc = g.oscillator({ type: 'saw', frequency: 110, amplitude: 0.3, phase: 0.1 })
  const player = g.player({ channels: [Float32Array.of(0.25, -0.5, 1)], loop: true, startFrame: 3 })
  const mix = g.gain({ gain: 0.7 })
  const f = g.biquad({ type: 'peaking', frequency: 900, q: 2, gainDb: -4 })
  const eq = g.eq({ bands: [{ type: 'lowshelf', frequency: 100, gainDb: 2 }, { type: 'highpass', frequency: 30 }] })
  const conv = g.convolver({ ir: [Float32Array.of(1, 0.5), Float32Array.of(0.5, 0.25)], normalize: false })
  g.connect(osc, mix).connect(player, mix).connect(g.constant({ value: 0.01 }), mix)
  g.chain(mix, f, eq, g.delay({ frames: 10, feedback: 0.2, mix: 0.5, maxFrames: 100 }), g.pan({ pan: 0.3 }), conv)
  g.chain(conv, g.compressor({ ratio: 2 }), g.limiter({ ceilingDb: -2, lookaheadMs: 3 }), g.meter({ name: 'm' }), g.output)
  g.connect(g.input, mix)
  g.automate(f, 'frequency', new AutomationLane().add(0, 200).add(100, 4000, 'exponential'))
  g.automate(eq, 'bands[0].gainDb', new AutomationLane([{ frame: 5, value: -3, curve: 'step' }]))
  const json = g.toJSON()
  const copy = Graph.fromJSON(json)
  t.deepEqual(copy.toJSON(), json)
  t.deepEqual(Graph.fromJSON(JSON.stringify(json)).toJSON(), json)
  t.is(copy.latencyFrames(48000), g.latencyFrames(48000))
})

test('Graph.fromJSON refuses bad documents by name', (t) => {
  const base = { format: 'ferrite-graph', version: 1, nodes: [{ id: 0, type: 'input' }, { id: 1, type: 'output' }], connections: [] as unknown[] }
  t.throws(() => Graph.fromJSON('{'), { instanceOf: TypeError, message: /not valid JSON/ })
  t.throws(() => Graph.fromJSON({ ...base, format: 'x' }), { instanceOf: TypeError, message: /format/ })
  t.throws(() => Graph.fromJSON({ ...base, version: 99 }), { instanceOf: RangeError, message: /version 99/ })
  t.throws(() => Graph.fromJSON({ ...base, nodes: [...base.nodes, { id: 2, type: 'wobble' }] }), { instanceOf: TypeError, message: /nodes\[2\].*unknown node type "wobble"/ })
  t.throws(() => Graph.fromJSON({ ...base, nodes: [...base.nodes, { id: 2, type: 'biquad', params: { frequency: 100 }, options: { type: 'lowpassy' } }] }), {
    instanceOf: TypeError,
    message: /nodes\[2\] \(biquad, id 2\).*unknown biquad type "lowpassy"/,
  })
  t.throws(() => Graph.fromJSON({ ...base, nodes: [...base.nodes, { id: 2, type: 'gain', params: { gain: 'loud' } }] }), { instanceOf: TypeError, message: /gain/ })
  t.throws(() => Graph.fromJSON({ ...base, nodes: [...base.nodes, { id: 2, type: 'pan', params: { pan: 3 } }] }), { instanceOf: RangeError, message: /pan/ })
  t.throws(() => Graph.fromJSON({ ...base, connections: [[0, 7]] }), { instanceOf: TypeError, message: /connections\[0\].*unknown node id 7/ })
  t.throws(() => Graph.fromJSON({ ...base, nodes: [...base.nodes, { id: 1, type: 'gain' }] }), { instanceOf: TypeError, message: /duplicate node id 1/ })
  const cyc = { ...base, nodes: [...base.nodes, { id: 2, type: 'gain' }, { id: 3, type: 'gain' }], connections: [[2, 3], [3, 2]] }
  t.throws(() => Graph.fromJSON(cyc), { instanceOf: RangeError, message: /connections\[1\].*cycle/ })
  t.throws(() => Graph.fromJSON({ ...base, automation: [{ node: 1, param: 'gain', points: [] }] }), { instanceOf: TypeError, message: /automation\[0\].*unknown parameter 'gain'/ })
})

test('ferrite render writes what renderOffline renders, with a progress bar', async (t) => {
  const g = new Graph()
  const gain = g.gain({ gain: 1 })
  g.chain(g.oscillator({ frequency: 1000, amplitude: 0.5 }), gain, g.meter({ name: 'out' }), g.output)
  g.automate(gain, 'gain', new AutomationLane().add(0, 1).add(12000, 0.5))
  const file = join(dir, 'graph.json')
  writeFileSync(file, JSON.stringify(g))
  const out = join(dir, 'render.wav')
  const r = await run(['render', file, '--out', out, '--seconds', '0.5', '--bit-depth', '32', '--progress', '--json'], dir)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stderr, /\[#{30}\] 100%/)
  const summary = parse(r.stdout)
  t.is(summary.frames, 24000)
  const wav = readWav(out)
  t.is(wav.sampleRate, 48000)
  t.is(wav.channels.length, 2)
  t.is(wav.channels[0].length, 24000)
  const ref = await renderOffline(g, { sampleRate: 48000, frames: 24000 })
  t.deepEqual(wav.channels, ref.channels)
  t.deepEqual(summary.meters, ref.meters)
  // Independently: a 1 kHz sine at 0.5, gain ramping 1 → 0.5 over 12000 frames.
  let worst = 0
  for (let n = 0; n < 24000; n += 7) {
    const gn = n < 12000 ? 1 - 0.5 * (n / 12000) : 0.5
    worst = Math.max(worst, Math.abs(wav.channels[1][n] - gn * 0.5 * Math.sin((2 * Math.PI * 1000 * n) / 48000)))
  }
  t.true(worst < 1e-5, `worst ${worst}`)
})

test('ferrite render at 24-bit and another sample rate', async (t) => {
  const g = new Graph()
  g.connect(g.constant({ value: 0.25 }), g.output)
  const file = join(dir, 'dc.json')
  writeFileSync(file, JSON.stringify(g.toJSON()))
  const out = join(dir, 'dc.wav')
  const r = await run(['render', file, '--out', out, '--frames', '1000', '--sample-rate', '44100', '--channels', '1'], dir)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /wrote .*dc\.wav: 1000 frames.*1 ch, 44100 Hz, 24-bit/)
  const wav = readWav(out)
  t.is(wav.sampleRate, 44100)
  t.is(wav.channels.length, 1)
  t.true(wav.channels[0].every((x) => Math.abs(x - 0.25) <= 2 ** -23))
})

test('ferrite loudness reports what a meter node reports for the same file', async (t) => {
  // Stereo: 3 s of a 1 kHz sine at 0.5 (-6.02 dBTP), then 1 s at 0.05.
  const sr = 48000
  const frames = 4 * sr
  const l = new Float32Array(frames)
  for (let n = 0; n < frames; n++) l[n] = (n < 3 * sr ? 0.5 : 0.05) * Math.sin((2 * Math.PI * 1000 * n) / sr)
  const file = join(dir, 'tone.wav')
  writeWav(file, [l, l.slice()], sr, { bitDepth: 32 })

  const r = await run(['loudness', file, '--json'], dir)
  t.is(r.code, 0, r.stderr)
  const got = parse(r.stdout)

  const wav = readWav(file)
  const g = new Graph()
  g.chain(g.player({ channels: wav.channels }), g.meter({ name: 'ref' }), g.output)
  const ref = (await renderOffline(g, { sampleRate: sr, frames, channels: 2 })).meters.ref
  t.is(got.integratedLufs, ref.integratedLufs)
  t.is(got.loudnessRangeLu, ref.loudnessRangeLu)
  t.is(got.truePeakDb, ref.truePeakDb)
  t.is(got.samplePeakDb, ref.peakDb)
  // And against BS.1770-4 directly: K-weighting's gain at 1 kHz from the
  // standard's 48 kHz coefficients, 400 ms blocks every 100 ms (each holds
  // whole periods of the tone), the absolute and the relative gate.
  const kGain2 = [
    [[1.53512485958697, -2.69169618940638, 1.19839281085285], [1, -1.69065929318241, 0.73248077421585]],
    [[1, -2, 1], [1, -1.99004745483398, 0.99007225036621]],
  ].reduce((acc, [b, a]) => {
    const w = (2 * Math.PI * 1000) / sr
    const mag2 = (c: number[]) => {
      const re = c[0] + c[1] * Math.cos(-w) + c[2] * Math.cos(-2 * w)
      const im = c[1] * Math.sin(-w) + c[2] * Math.sin(-2 * w)
      return re * re + im * im
    }
    return (acc * mag2(b)) / mag2(a)
  }, 1)
  const blocks: number[] = []
  for (let start = 0; start + 19200 <= frames; start += 4800) {
    const loud = Math.min(19200, Math.max(0, 3 * sr - start))
    const ms = ((loud * 0.25) / 2 + ((19200 - loud) * 0.0025) / 2) / 19200
    blocks.push(2 * ms * kGain2) // two channels, weight 1 each
  }
  const lufs = (z: number) => -0.691 + 10 * Math.log10(z)
  const mean = (zs: number[]) => zs.reduce((a, b) => a + b, 0) / zs.length
  const abs = blocks.filter((z) => lufs(z) > -70)
  const gate = lufs(mean(abs)) - 10
  const integrated = lufs(mean(abs.filter((z) => lufs(z) > gate)))
  t.true(Math.abs(got.integratedLufs - integrated) < 0.05, `integrated ${got.integratedLufs}, BS.1770 ${integrated}`)
  t.true(Math.abs(got.truePeakDb - 20 * Math.log10(0.5)) < 0.1, `true peak ${got.truePeakDb}`)
  t.true(Math.abs(got.samplePeakDb - 20 * Math.log10(0.5)) < 0.01, `sample peak ${got.samplePeakDb}`)

  const human = await run(['loudness', file], dir)
  t.is(human.code, 0)
  t.regex(human.stdout, new RegExp(`Integrated loudness: ${ref.integratedLufs.toFixed(1)} LUFS`))
  t.regex(human.stdout, new RegExp(`True peak: +${ref.truePeakDb.toFixed(1)} dBTP`))
  t.regex(human.stdout, /Loudness range: +-?\d+\.\d LU/)
})

test('ferrite devices lists what listDevices lists', async (t) => {
  const r = await run(['devices', '--json'], dir)
  t.is(r.code, 0, r.stderr)
  const list = JSON.parse(r.stdout)
  t.true(Array.isArray(list))
  t.deepEqual(
    list.map((d: { id: string }) => d.id).sort(),
    listDevices()
      .map((d) => d.id)
      .sort(),
  )
  const human = await run(['devices'], dir)
  t.is(human.code, 0)
  for (const d of list) t.true(human.stdout.includes(d.id))
})

test('ferrite --help, and clear errors with a non-zero exit code', async (t) => {
  const help = await run(['--help'], dir)
  t.is(help.code, 0)
  for (const w of ['render <graph.json>', '--out', '--seconds', 'loudness <file>...', 'info <file>...', 'devices']) t.true(help.stdout.includes(w), w)

  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify({ format: 'ferrite-graph', version: 1, nodes: [{ id: 0, type: 'input' }, { id: 1, type: 'output' }, { id: 2, type: 'biquad', params: { frequency: 100 }, options: { type: 'lowpassy' } }], connections: [[2, 1]] }))
  const r1 = await run(['render', bad, '--out', join(dir, 'x.wav'), '--seconds', '1'], dir)
  t.is(r1.code, 1)
  t.regex(r1.stderr, /bad\.json is not a valid ferrite graph: .*unknown biquad type "lowpassy"/)

  writeFileSync(join(dir, 'broken.json'), '{"format": "ferrite-graph",')
  const r2 = await run(['render', 'broken.json', '--out', 'x.wav', '--seconds', '1'], dir)
  t.is(r2.code, 1)
  t.regex(r2.stderr, /broken\.json is not valid JSON/)

  const r3 = await run(['render', 'missing.json', '--out', 'x.wav', '--seconds', '1'], dir)
  t.is(r3.code, 1)
  t.regex(r3.stderr, /cannot read graph file missing\.json: no such file/)

  const r4 = await run(['render', bad, '--seconds', '1'], dir)
  t.is(r4.code, 2)
  t.regex(r4.stderr, /needs --out/)

  const r5 = await run(['render', bad, '--out', 'x.wav', '--seconds', 'soon'], dir)
  t.is(r5.code, 2)
  t.regex(r5.stderr, /--seconds "soon" is not valid/)

  // Numbers are plain decimals within their range, and the message says what is accepted.
  for (const [flag, value, want] of [
    ['--frames', '0x10', /--frames "0x10" is not valid: a whole number of frames/],
    ['--frames', 'Infinity', /--frames "Infinity" is not valid/],
    ['--seconds', '1e308', /--seconds "1e308" is not valid: more than 0 and at most 2\^52 frames at 48000 Hz/],
    ['--seconds', '0.000001', /--seconds "0.000001" is not valid/],
  ] as const) {
    const r = await run(['render', bad, '--out', 'x.wav', flag, value], dir)
    t.is(r.code, 2, `${flag} ${value}`)
    t.regex(r.stderr, want)
  }
  const rate = await run(['render', bad, '--out', 'x.wav', '--seconds', '1', '--sample-rate', '0'], dir)
  t.is(rate.code, 2)
  t.regex(rate.stderr, /--sample-rate "0" is not valid: a whole number of Hz from 1000 to 1536000/)

  const r6 = await run(['frobnicate'], dir)
  t.is(r6.code, 2)
  t.regex(r6.stderr, /unknown command "frobnicate"/)

  const r7 = await run(['loudness', join(dir, 'nothing.wav')], dir)
  t.is(r7.code, 1)
  t.regex(r7.stderr, /nothing\.wav: no such file/)
})
