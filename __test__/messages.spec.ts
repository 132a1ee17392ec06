// Issue 26 item 6 (TypeScript side): messages name values compactly and
// correctly, sparse channel arrays are named, frames past the largest exact
// frame and fractional sample rates are refused the same way everywhere.
import test from 'ava'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Graph, AutomationLane, Engine, renderOffline, writeWav, secondsToFrames } from '../index'
import { compactNumbers } from '../ts/errors'

let dir = ''
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferrite-messages-'))
})
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
})

test('huge and tiny numbers are printed compactly in messages, the native side\'s too', async (t) => {
  const g = new Graph()
  g.chain(g.gain({ gain: 1e300 }), g.output)
  await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 10 }), { instanceOf: RangeError, message: /^gain #2: parameter 'gain' = 1e\+300 / })
  await t.throwsAsync(renderOffline(new Graph(), { sampleRate: 48000, frames: 10, blockSize: 1e300 }), { instanceOf: RangeError, message: /^renderOffline: blockSize = 1e\+300 / })
  await t.throwsAsync(renderOffline(new Graph(), { sampleRate: 48000, frames: 10, channels: -1e300 }), { instanceOf: RangeError, message: /-1e\+300/ })
  t.throws(() => new Graph().delay({ frames: 1e300 }), { instanceOf: RangeError, message: /'frames' = 1e\+300 / })
  t.throws(() => writeWav(join(dir, 'a.wav'), [new Float32Array(4)], 1e300), { instanceOf: RangeError, message: 'writeWav: sampleRate = 1e+300 is out of range [1000, 1536000]' })
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    const h = new Graph()
    const gain = h.gain()
    h.chain(gain, h.output)
    engine.setGraph(h)
    t.throws(() => engine.setParam(gain, 'gain', 1e300), { instanceOf: RangeError, message: /= 1e\+300 / })
    t.throws(() => engine.setParam(gain, 'gain', 1, { rampMs: 1e300 }), { instanceOf: RangeError, message: /rampMs = 1e\+300 / })
    t.notThrows(() => engine.setParam(gain, 'gain', 1e-300))
  } finally {
    await engine.close()
  }
  // What the rewrite of native messages does, and leaves alone.
  t.is(compactNumbers(`x = ${(1e300).toLocaleString('en', { useGrouping: false })} and -${'1'.padEnd(25, '0')}.5`), 'x = 1e+300 and -1e+24')
  t.is(compactNumbers(`y = 0.${'0'.repeat(299)}1 Hz`), 'y = 1e-300 Hz')
  t.is(compactNumbers('frame 4503599627370496, 0.000123 s, 48000 Hz'), 'frame 4503599627370496, 0.000123 s, 48000 Hz')
})

test('an object is "an object" in messages', (t) => {
  t.throws(() => writeWav(join(dir, 'b.wav'), [{} as Float32Array], 48000), { instanceOf: TypeError, message: 'writeWav: channels[0] must be a Float32Array, got an object' })
  t.throws(() => new Graph().oscillator({ frequency: {} as number }), { instanceOf: TypeError, message: /'frequency' must be a number, got an object$/ })
  t.throws(() => new Graph().meter({ name: null as unknown as string }), { instanceOf: TypeError, message: /got null$/ })
  t.throws(() => new Graph().connect((() => 1) as never, new Graph().output), { instanceOf: TypeError, message: /got a function$/ })
})

test('a sparse channel array is a TypeError naming the missing channel, and nothing is written', async (t) => {
  const path = join(dir, 'sparse.wav')
  // eslint-disable-next-line no-sparse-arrays
  t.throws(() => writeWav(path, [, new Float32Array(4)] as Float32Array[], 48000), { instanceOf: TypeError, message: 'writeWav: channels[0] is missing (a hole in a sparse array); each channel must be a Float32Array' })
  // eslint-disable-next-line no-sparse-arrays
  t.throws(() => writeWav(path, [new Float32Array(4), , new Float32Array(4)] as Float32Array[], 48000), { instanceOf: TypeError, message: /channels\[1\] is missing/ })
  t.throws(() => writeWav(path, new Array(2) as Float32Array[], 48000), { instanceOf: TypeError, message: /channels\[0\] is missing/ })
  t.false(existsSync(path))
  const g = new Graph()
  t.throws(() => g.player({ channels: new Array(1) as Float32Array[] }), { instanceOf: TypeError, message: /player #2: channels\[0\] is missing/ })
  await t.throwsAsync(renderOffline(g, { sampleRate: 48000, frames: 1, input: new Array(1) as Float32Array[] }), { instanceOf: TypeError, message: /renderOffline: input\[0\] is missing/ })
})

test('frames beyond the largest exact frame (2^52) are refused: seek, atFrame, setLoop, lanes, delays', async (t) => {
  const beyond = { instanceOf: RangeError, message: /is beyond the largest exact frame, 2\^52 = 4503599627370496$/ }
  t.throws(() => new AutomationLane().add(2 ** 53 - 1, 0), beyond)
  t.notThrows(() => new AutomationLane().add(2 ** 52, 0))
  t.throws(() => new Graph().delay({ frames: 2 ** 64 }), beyond)
  await t.throwsAsync(renderOffline(new Graph(), { sampleRate: 48000, frames: 2 ** 53 - 1 }), beyond)
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    const g = new Graph()
    const gain = g.gain()
    g.chain(gain, g.output)
    engine.setGraph(g)
    t.throws(() => engine.seek(2 ** 53 - 1), { ...beyond, message: /^seek: 'frame' = 9007199254740991 is beyond the largest exact frame/ })
    t.throws(() => engine.setParam(gain, 'gain', 0.5, { atFrame: 2 ** 64 }), { ...beyond, message: /^setParam: 'atFrame' = 18446744073709552000 is beyond/ })
    t.throws(() => engine.setLoop(0, 2 ** 53), beyond)
    engine.seek(2 ** 52)
    t.notThrows(() => engine.setParam(gain, 'gain', 0.5, { atFrame: 2 ** 52 }))
    // The engine keeps running after the refusals.
    engine.seek(0)
    t.is(engine.position, 0)
  } finally {
    await engine.close()
  }
})

test('a non-integer sampleRate is refused by renderOffline and writeWav alike, naming it', async (t) => {
  const whole = (where: string) => ({ instanceOf: RangeError, message: `${where}: sampleRate = 44100.5 must be a whole number of Hz` })
  await t.throwsAsync(renderOffline(new Graph(), { sampleRate: 44100.5, frames: 10 }), whole('renderOffline'))
  t.throws(() => writeWav(join(dir, 'c.wav'), [new Float32Array(4)], 44100.5), whole('writeWav'))
  t.throws(() => new Graph().latencyFrames(44100.5), whole('latencyFrames'))
  t.throws(() => secondsToFrames(1, 44100.5), whole('secondsToFrames'))
  const r = await renderOffline(new Graph(), { sampleRate: 44100, frames: 10 })
  t.is(r.channels[0].length, 10)
})

test('writeWav refuses a bit depth it cannot write instead of truncating it', (t) => {
  const path = join(dir, 'd.wav')
  for (const bitDepth of [2 ** 32 + 16, 1e300, 8, 16.5]) {
    t.throws(() => writeWav(path, [new Float32Array(4)], 48000, { bitDepth: bitDepth as 16 }), { instanceOf: RangeError, message: `writeWav: bitDepth = ${bitDepth} must be 16, 24 or 32 (float)` })
  }
  t.false(existsSync(path))
  writeWav(path, [new Float32Array(4)], 48000, { bitDepth: 24 })
  t.true(existsSync(path))
})
