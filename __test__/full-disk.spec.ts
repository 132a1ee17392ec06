// Issue 26, item 4: a real full disk. On a 1 MiB tmpfs, every writer fails
// with an Error naming the file, leaves no temporary file, and leaves an
// existing file byte for byte as it was; a recording that runs out of space
// reports it and the engine plays on. Needs root (mount); skipped otherwise.
import anyTest from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine, Graph, renderToFile, writeWav } from '../index'

// Engines open SCHED_FIFO threads, and all share one small disk: one at a time.
const serial = anyTest.serial
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const dir = mkdtempSync(join(tmpdir(), 'ferrite-full-disk-'))
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', dir], { encoding: 'utf8' })
const why = mounted.error ? mounted.error.message : mounted.status !== 0 ? mounted.stderr.trim() : ''
const test = why ? serial.skip : serial

if (why) {
  rmdirSync(dir)
  anyTest('full-disk tests are skipped: a 1 MiB tmpfs cannot be mounted here', (t) => {
    t.log(`mount -t tmpfs -o size=1M: ${why} (these tests need root)`)
    t.pass()
  })
} else {
  anyTest.after.always(() => {
    spawnSync('umount', [dir])
    rmdirSync(dir)
  })
}

/** Deterministic noise in [-0.5, 0.5] (incompressible, so FLAC is as large as WAV). */
function noise(n: number, seed: number): Float32Array {
  const x = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    x[i] = s / 2 ** 32 - 0.5
  }
  return x
}

/** Files in the tmpfs, sorted. */
const files = () => readdirSync(dir).sort()

/** Writes a small original at `name` and returns its bytes. */
function original(name: string): Buffer {
  const path = join(dir, name)
  writeWav(path, [noise(20000, 7)], 48000, { bitDepth: 16 })
  return readFileSync(path)
}

test('writeWav over an existing file that no longer fits fails naming the file; the original is byte-identical', (t) => {
  const path = join(dir, 'take.wav')
  const before = original('take.wav')
  t.is(before.length, 44 + 40000)
  // 2 × 300,000 frames at 16 bits: 1.2 MB, more than the disk holds.
  const e = t.throws(() => writeWav(path, [noise(300000, 1), noise(300000, 2)], 48000, { bitDepth: 16 }), { instanceOf: Error })
  t.log(e!.message)
  t.true(e!.message.includes(path), e!.message)
  t.regex(e!.message, /No space left on device|ENOSPC|space/i)
  t.deepEqual(readFileSync(path), before)
  t.deepEqual(files(), ['take.wav'], 'no temporary file is left')
  // With room again, the same write succeeds.
  t.notThrows(() => writeWav(path, [noise(30000, 1)], 48000, { bitDepth: 16 }))
  t.is(readFileSync(path).length, 44 + 60000)
  rmFiles()
})

for (const ext of ['wav', 'flac']) {
  test(`renderToFile (.${ext}) that runs out of space rejects naming the file, leaves no temporary file and the existing target untouched`, async (t) => {
    const path = join(dir, `mix.${ext}`)
    const before = original(`mix.${ext}`)
    const g = new Graph()
    g.chain(g.noise({ color: 'white', amplitude: 0.5, seed: 3 }), g.output)
    // 10 s of stereo 24-bit white noise: 2.9 MB as WAV, about as much as FLAC.
    const e = await t.throwsAsync(renderToFile(g, { path, sampleRate: 48000, frames: 480000, channels: 2, bitDepth: 24 }), { instanceOf: Error })
    t.log(e!.message)
    t.true(e!.message.startsWith(`renderToFile: ${path}: `), e!.message)
    t.regex(e!.message, /No space left on device|ENOSPC|space/i)
    t.deepEqual(readFileSync(path), before, 'the existing target is byte-identical')
    t.deepEqual(files(), [`mix.${ext}`], 'no temporary file is left')
    // The same render, short enough to fit, replaces it.
    const r = await renderToFile(g, { path, sampleRate: 48000, frames: 4800, channels: 2, bitDepth: 24 })
    t.is(r.frames, 4800)
    t.notDeepEqual(readFileSync(path), before)
    rmFiles()
  })
}

test('a recording that runs out of space is reported through onError and by stop(); the engine plays on and records again', async (t) => {
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    const errors: string[] = []
    engine.onError((e) => errors.push(e.message))
    const g = new Graph()
    g.chain(g.noise({ color: 'white', amplitude: 0.5, seed: 9 }), g.meter({ name: 'm' }), g.output)
    engine.setGraph(g)
    engine.play()
    const path = join(dir, 'rec.wav')
    // 32-bit float stereo: 384 kB a second; the disk is full within 3 s.
    const rec = await engine.record({ path, bitDepth: 32 })
    for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(100)
    t.log(errors)
    t.is(errors.length, 1, 'onError reported the failure once')
    t.true(errors[0].includes(path), errors[0])
    t.regex(errors[0], /No space left on device|ENOSPC|space/i)
    const e = await t.throwsAsync(rec.stop(), { instanceOf: Error })
    t.is(errors[0], `Engine: ${e!.message}`, 'stop() rejects with the error onError reported')
    t.deepEqual(files(), [], 'neither the temporary file nor a partial recording is left')
    // The engine plays on, and a recording that fits works.
    const a = engine.stats().framesRendered
    await sleep(300)
    t.true(engine.stats().framesRendered > a)
    const small = await engine.record({ path, bitDepth: 16 })
    await sleep(300)
    const r = await small.stop()
    t.true(r.frames > 0)
    t.is(readFileSync(path).length, 44 + r.frames * 4)
    t.is(errors.length, 1)
  } finally {
    await engine.close()
    rmFiles()
  }
})

function rmFiles() {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true })
}
