// Issue 26, items 4 and 5 from JavaScript: writeWav's header limits and
// bitDepth, unfinished WAV headers, loudness below 8000 Hz, NaN/Inf input.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Graph, analyzeFile, readWav, renderOffline, writeWav } from '../index'

const cli = join(__dirname, '..', 'bin', 'ferrite.js')

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

function sine(freq: number, amp: number, rate: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate))
}

let dir: string
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferrite-hardening-'))
})
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
})

test('writeWav refuses a bitDepth other than exactly 16, 24 or 32 and a frame the header cannot hold, leaving the file', (t) => {
  const p = join(dir, 'keep.wav')
  const x = sine(440, 0.5, 48000, 480)
  writeWav(p, [x], 48000, { bitDepth: 24 })
  const before = readFileSync(p)
  for (const bitDepth of [2 ** 32 + 16, 2 ** 32 + 24, 16.5, 8, -16]) {
    t.throws(() => writeWav(p, [x], 48000, { bitDepth: bitDepth as 16 }), { instanceOf: RangeError, message: `writeWav: bitDepth = ${bitDepth} must be 16, 24 or 32 (float)` })
  }
  const wide = Array.from({ length: 32768 }, () => new Float32Array(1))
  t.throws(() => writeWav(p, wide, 48000), { instanceOf: RangeError, message: /keep\.wav: 32768 channels of 16 bits make 65536-byte frames; .*\(32767 channels at 16 bits\)/ })
  t.deepEqual(readFileSync(p), before)
  t.deepEqual(readdirSync(dir).filter((n) => n !== 'keep.wav'), [])
  const back = readWav(p)
  t.is(back.channels[0].length, 480)
  t.true(Math.abs(back.channels[0][100] - x[100]) < 1 / 2 ** 23)
})

test('readWav refuses a WAV whose header sizes were never written but reads a correct empty WAV', (t) => {
  const empty = join(dir, 'empty.wav')
  writeWav(empty, [new Float32Array(0)], 44100)
  const e = readWav(empty)
  t.is(e.sampleRate, 44100)
  t.is(e.channels[0].length, 0)
  const full = join(dir, 'full.wav')
  writeWav(full, [sine(440, 0.5, 44100, 100)], 44100)
  const b = readFileSync(full)
  b.fill(0, 4, 8)
  b.fill(0, 40, 44)
  const torn = join(dir, 'torn.wav')
  writeFileSync(torn, b)
  t.throws(() => readWav(torn), { message: /torn\.wav.*the RIFF size is 0: the file's header was never completed/ })
})

test('loudness is refused below 8000 Hz with a RangeError naming the rate, and right at 8000 Hz', async (t) => {
  const g = new Graph()
  g.chain(g.input, g.meter({ name: 'm' }), g.output)
  const low = sine(100, 0.1, 2000, 8000)
  await t.throwsAsync(renderOffline(g, { sampleRate: 2000, frames: low.length, channels: 1, input: [low] }), { instanceOf: RangeError, message: /loudness \(ITU-R BS\.1770 K-weighting\) is defined from 8000 Hz; the sample rate is 2000 Hz/ })
  // A −20 dBFS 1 kHz sine is −23.0 LUFS; at 8 kHz the meter reads it 0.2 LU low (documented).
  const x = sine(1000, 0.1, 8000, 40000)
  const r = await renderOffline(g, { sampleRate: 8000, frames: x.length, channels: 1, input: [x] })
  t.true(Math.abs(r.meters.m.integratedLufs + 23) < 0.25, `${r.meters.m.integratedLufs}`)

  const phone = join(dir, 'phone.wav')
  writeWav(phone, [sine(440, 0.1, 3000, 6000)], 3000)
  await t.throwsAsync(analyzeFile(phone), { instanceOf: RangeError, message: /phone\.wav: .*the sample rate is 3000 Hz/ })
  const cliRun = await run(['loudness', phone], dir)
  t.is(cliRun.code, 1)
  t.regex(cliRun.stderr, /phone\.wav: .*the sample rate is 3000 Hz/)
  t.notRegex(cliRun.stdout, /LUFS/)
})

test('NaN and infinite input samples are refused by renderOffline and the CLI\'s --input, as by player', async (t) => {
  const g = new Graph()
  g.chain(g.input, g.output)
  for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
    const x = new Float32Array(100).fill(0.1)
    x[42] = bad
    await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 100, channels: 1, input: [x] }), { instanceOf: RangeError, message: `renderOffline: input[0][42] = ${shown} is not a finite sample` })
    await t.throwsAsync(async () => {
      const p = new Graph()
      p.chain(p.player({ channels: [x] }), p.output)
      await renderOffline(p, { sampleRate: 48000, frames: 100, channels: 1 })
    }, { instanceOf: RangeError, message: /\[0\]\[42\] = -?(NaN|Infinity) is not a finite sample/ })
  }
  const inp = join(dir, 'inf.wav')
  const x = sine(440, 0.5, 48000, 24000)
  x[20000] = Infinity
  writeWav(inp, [x], 48000, { bitDepth: 32 })
  const graph = join(dir, 'thru.json')
  writeFileSync(graph, JSON.stringify(g))
  const out = join(dir, 'out.wav')
  const r = await run(['render', graph, '--input', inp, '--out', out, '--seconds', '1', '--channels', '1'], dir)
  t.is(r.code, 1, r.stdout)
  t.regex(r.stderr, /inf\.wav\[0\]\[20000\] = Infinity is not a finite sample/)
  t.false(readdirSync(dir).some((n) => n.startsWith('out.wav') || n.startsWith('.out.wav')))
})
