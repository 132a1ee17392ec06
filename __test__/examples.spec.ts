// The examples/ scripts run (short durations) and do what they say.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Graph, listDevices, readWav, renderOffline, writeWav, type MeterReading } from '../index'

const root = join(__dirname, '..')

function example(name: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import=tsx', join(root, 'examples', name), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function measure(file: string): Promise<MeterReading> {
  const { sampleRate, channels } = readWav(file)
  const g = new Graph()
  g.chain(g.player({ channels }), g.meter({ name: 'm' }), g.output)
  return (await renderOffline(g, { sampleRate, frames: channels[0].length, channels: channels.length })).meters.m
}

let dir: string
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferrite-examples-'))
})
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
})

test('master.ts brings a quiet, peaky file to -14 LUFS under -1 dBTP', async (t) => {
  // A quiet two-tone mix with clicks: raising it to -14 LUFS needs the limiter.
  const sr = 48000
  const n = 4 * sr
  const l = new Float32Array(n)
  const r = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const s = 0.02 * Math.sin((2 * Math.PI * 220 * i) / sr) + 0.01 * Math.sin((2 * Math.PI * 3300 * i) / sr) + (i % 12000 < 3 ? 0.8 : 0)
    l[i] = s
    r[i] = 0.9 * s
  }
  const input = join(dir, 'quiet.wav')
  const output = join(dir, 'quiet.mastered.wav')
  writeWav(input, [l, r], sr, { bitDepth: 24 })
  const before = await measure(input)
  t.true(before.integratedLufs < -25, `input ${before.integratedLufs}`)

  const res = await example('master.ts', [input, output])
  t.is(res.code, 0, res.stderr)
  t.regex(res.stdout, /before: integrated -\d+\.\d+ LUFS/)
  t.regex(res.stdout, /after: +integrated -1[34]\.\d+ LUFS/)
  const after = await measure(output)
  t.true(Math.abs(after.integratedLufs - -14) <= 0.3, `integrated ${after.integratedLufs}`)
  t.true(after.truePeakDb <= -1 + 0.05, `true peak ${after.truePeakDb}`)
  t.is(readWav(output).channels[0].length, n)
})

test('master.ts without limiting is a pure gain, aligned with the input (latency removed)', async (t) => {
  // A 1 kHz sine at 0.5 (≈ -6 LUFS) to -20 LUFS: gain ≈ -14 dB, peaks far below the ceiling.
  const sr = 44100
  const n = 3 * sr
  const x = Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / sr))
  const input = join(dir, 'loud.wav')
  const output = join(dir, 'loud.out.wav')
  writeWav(input, [x, x], sr, { bitDepth: 32 })
  const before = await measure(input)
  const res = await example('master.ts', [input, output, '--target', '-20', '--bit-depth', '32'])
  t.is(res.code, 0, res.stderr)
  const y = readWav(output)
  t.is(y.sampleRate, sr)
  const g = 10 ** ((-20 - before.integratedLufs) / 20)
  let worst = 0
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y.channels[0][i] - g * x[i]))
  t.true(worst < 1e-4, `worst deviation from input × ${g.toFixed(4)}: ${worst}`)
  t.true(Math.abs((await measure(output)).integratedLufs - -20) < 0.1)
})

test('live-eq.ts plays on the null backend and prints meters and a spectrum', async (t) => {
  const res = await example('live-eq.ts', [], { FERRITE_EXAMPLE_SECONDS: '1' })
  t.is(res.code, 0, res.stderr)
  t.regex(res.stdout, /null backend: 48000 Hz/)
  const ins = res.stdout.split('\n').filter((l) => l.startsWith('in '))
  const outs = res.stdout.split('\n').filter((l) => l.startsWith('out '))
  t.true(ins.length >= 1 && outs.length >= 1, res.stdout)
  t.regex(outs[outs.length - 1], /peak +-\d+\.\d dB/)
  // The spectrum's loudest bin is one of the saw's harmonics (110 Hz · n).
  const spec = res.stdout.split('\n').filter((l) => l.startsWith('spec '))
  t.true(spec.length >= 1, res.stdout)
  const peak = Number(/peak +(\d+) Hz/.exec(spec[spec.length - 1])![1])
  const n = Math.round(peak / 110)
  t.true(n >= 1 && Math.abs(peak - 110 * n) <= 48000 / 4096, `peak ${peak} Hz`)
  const done = /done: (\d+) meter updates, (\d+) spectra, (\d+) callbacks/.exec(res.stdout)
  t.truthy(done, res.stdout)
  t.true(Number(done![1]) > 0 && Number(done![2]) > 0 && Number(done![3]) > 0)
})

test('automation-sweep.ts renders a lowpass sweep that opens up over time', async (t) => {
  const out = join(dir, 'sweep.wav')
  const res = await example('automation-sweep.ts', [out], { FERRITE_EXAMPLE_SECONDS: '1' })
  t.is(res.code, 0, res.stderr)
  t.regex(res.stdout, /cutoff at 0\.50 s: 1265 Hz/) // 200 · 40^0.5
  const { sampleRate, channels } = readWav(out)
  t.is(sampleRate, 48000)
  t.is(channels[0].length, 48000)
  // Brightness: energy of the first difference over energy, early vs late.
  const brightness = (from: number, to: number) => {
    const c = channels[0]
    let e = 0
    let d = 0
    for (let i = from + 1; i < to; i++) {
      e += c[i] * c[i]
      d += (c[i] - c[i - 1]) ** 2
    }
    return d / e
  }
  const early = brightness(0.3 * sampleRate, 0.4 * sampleRate)
  const late = brightness(0.6 * sampleRate, 0.7 * sampleRate)
  t.true(late > 2 * early, `brightness early ${early}, late ${late}`)
  t.true(Math.abs(channels[0][0]) < 1e-3, 'fades in from silence')
})

test('devices.ts lists the devices', async (t) => {
  const res = await example('devices.ts', [])
  t.is(res.code, 0, res.stderr)
  const ids = listDevices().map((d) => d.id)
  for (const id of ids) t.true(res.stdout.includes(id), id)
  t.regex(res.stdout, new RegExp(`${ids.length} devices?`))
})

test('ducking.ts ducks the music by more than 10 dB under the voice', async (t) => {
  const out = join(dir, 'ducked.wav')
  const res = await example('ducking.ts', [out], { FERRITE_EXAMPLE_SECONDS: '2' })
  t.is(res.code, 0, res.stderr)
  const m = /ducked by (\d+\.\d) dB/.exec(res.stdout)
  t.truthy(m, res.stdout)
  t.true(Number(m![1]) > 10, res.stdout)
  const { sampleRate, channels } = readWav(out)
  t.is(sampleRate, 48000)
  t.is(channels[0].length, 96000)
})

test('the examples type-check under --strict', async (t) => {
  const files = ['master.ts', 'live-eq.ts', 'automation-sweep.ts', 'devices.ts', 'ducking.ts'].map((f) => join(root, 'examples', f))
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const args = [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', ...files]
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    p.on('close', (code) => resolve({ code, out }))
  })
  t.is(r.code, 0, r.out)
})
