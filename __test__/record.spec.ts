import anyTest from 'ava'

// Engines open SCHED_FIFO threads: run these one at a time.
const test = anyTest.serial
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutomationLane, Engine, Graph, readWav } from '../index'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const SR = 48000

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ferrite-record-'))
}

async function waitForPosition(engine: Engine, frame: number) {
  while (engine.position < frame) await sleep(50)
}

/** Least-squares fit of a·sin(ωn) + b·cos(ωn) + c; returns the amplitude and the residual relative to the signal, in dB. */
function fitSine(x: Float32Array, omega: number, n0 = 0) {
  // Normal equations of the three basis functions, solved by Cramer's rule.
  const m = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
  const r = [0, 0, 0]
  for (let i = 0; i < x.length; i++) {
    const f = [Math.sin(omega * (n0 + i)), Math.cos(omega * (n0 + i)), 1]
    for (let a = 0; a < 3; a++) {
      r[a] += f[a] * x[i]
      for (let b = 0; b < 3; b++) m[a][b] += f[a] * f[b]
    }
  }
  const det = (q: number[][]) =>
    q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) + q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0])
  const d = det(m)
  const coef = [0, 1, 2].map((k) => det(m.map((row, i) => row.map((v, j) => (j === k ? r[i] : v)))) / d)
  let res = 0
  let sig = 0
  for (let i = 0; i < x.length; i++) {
    const y = coef[0] * Math.sin(omega * (n0 + i)) + coef[1] * Math.cos(omega * (n0 + i)) + coef[2]
    res += (x[i] - y) ** 2
    sig += x[i] ** 2
  }
  return { amplitude: Math.hypot(coef[0], coef[1]), residualDb: 10 * Math.log10(res / sig) }
}

test('a 3.5 s recording of a sine while the JavaScript thread is blocked for 1.5 s is one continuous sine, no frame dropped', async (t) => {
  const dir = tempDir()
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
  try {
    const g = new Graph()
    g.chain(g.oscillator({ frequency: 997, amplitude: 0.5 }), g.output)
    engine.setGraph(g)
    await sleep(100)
    const start = engine.position + SR / 2
    const end = start + 3.5 * SR
    const path = join(dir, 'sine.wav')
    const rec = await engine.record({ path, bitDepth: 32, startFrame: start, endFrame: end })
    t.is(rec.path, path)
    await waitForPosition(engine, start + SR / 2)
    // Block the JavaScript thread for 1.5 s in the middle of the recording.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
    await waitForPosition(engine, end + 4096)
    const r = await rec.stop()
    t.deepEqual(r, { frames: end - start, droppedFrames: 0 })
    t.is(engine.stats().recordDroppedFrames, 0)
    const wav = readWav(path)
    t.is(wav.channels.length, 2)
    for (const ch of wav.channels) {
      t.is(ch.length, end - start)
      const fit = fitSine(ch, (2 * Math.PI * 997) / SR)
      t.log(`amplitude ${fit.amplitude.toFixed(9)}, residual ${fit.residualDb.toFixed(1)} dB`)
      t.true(fit.residualDb < -100, `residual ${fit.residualDb} dB`)
      t.true(Math.abs(fit.amplitude - 0.5) < 1e-6)
    }
    t.false(readdirSync(dir).some((f) => f.endsWith('.part')))
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('punch in and out record exactly endFrame - startFrame frames beginning at startFrame (master and node sources)', async (t) => {
  const dir = tempDir()
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
  try {
    // A constant whose value is the transport frame.
    const g = new Graph()
    const counter = g.constant({ value: 0 })
    g.connect(counter, g.output)
    g.automate(counter, 'value', new AutomationLane().add(0, 0).add(1e8, 1e8))
    engine.setGraph(g)
    await sleep(100)
    const start = engine.position + SR / 4 + 37
    const end = start + 10007
    const master = await engine.record({ path: join(dir, 'master.wav'), bitDepth: 32, startFrame: start, endFrame: end })
    const node = await engine.record({ path: join(dir, 'node.wav'), source: counter, bitDepth: 32, startFrame: start, endFrame: end })
    await waitForPosition(engine, end + 1024)
    for (const rec of [master, node]) {
      t.deepEqual(await rec.stop(), { frames: end - start, droppedFrames: 0 })
      const wav = readWav(rec.path)
      for (const ch of wav.channels) {
        t.is(ch.length, end - start)
        t.is(ch[0], start)
        t.true(ch.every((v, i) => v === start + i), rec.path)
      }
    }
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a node before a fader records the pre-fader signal while the master records the faded one', async (t) => {
  const dir = tempDir()
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
  try {
    const g = new Graph()
    const osc = g.oscillator({ frequency: 440, amplitude: 0.5 })
    g.chain(osc, g.gain({ gain: 0.1 }), g.output)
    engine.setGraph(g)
    const pre = await engine.record({ path: join(dir, 'pre.flac'), source: osc })
    const post = await engine.record({ path: join(dir, 'post.wav'), bitDepth: 32 })
    await sleep(400)
    const [a, b] = [await pre.stop(), await post.stop()]
    t.true(a.frames > SR / 10 && b.frames > SR / 10, `${a.frames} ${b.frames}`)
    const omega = (2 * Math.PI * 440) / SR
    const preFit = fitSine(readWav(pre.path).channels[0], omega)
    const postFit = fitSine(readWav(post.path).channels[0], omega)
    t.log(`pre ${preFit.amplitude} (${preFit.residualDb.toFixed(1)} dB), post ${postFit.amplitude}`)
    t.true(Math.abs(preFit.amplitude - 0.5) < 1e-4, `${preFit.amplitude}`) // 24-bit FLAC
    t.true(Math.abs(postFit.amplitude - 0.05) < 1e-6, `${postFit.amplitude}`)
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('record refuses bad options naming them, and paths that cannot be created naming the path', async (t) => {
  const dir = tempDir()
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
  try {
    engine.setGraph(new Graph())
    await t.throwsAsync(engine.record({} as never), { instanceOf: TypeError, message: /'path'/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), bitDepth: 8 as never }), { instanceOf: RangeError, message: /'bitDepth'/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), source: 'mic' as never }), { instanceOf: TypeError, message: /'source'/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), startFrame: 10, endFrame: 5 }), { instanceOf: RangeError, message: /'endFrame'/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), startFrame: -1 }), { instanceOf: RangeError, message: /'startFrame'/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), nope: 1 } as never), { instanceOf: TypeError, message: /nope/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.wav'), source: 'input' }), { message: /inputDevice/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.flac'), bitDepth: 32 }), { instanceOf: RangeError, message: /FLAC/ })
    await t.throwsAsync(engine.record({ path: join(dir, 'a.mp3') }), { message: /a\.mp3/ })
    const missing = join(dir, 'no-such-dir', 'a.wav')
    const e = await t.throwsAsync(engine.record({ path: missing }))
    t.true(e!.message.includes(missing), e!.message)
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('close() finishes every open recording; stop() afterwards resolves with what was written', async (t) => {
  const dir = tempDir()
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128 })
  const g = new Graph()
  g.chain(g.oscillator({ frequency: 1000, amplitude: 0.25 }), g.output)
  engine.setGraph(g)
  const recs = await Promise.all(['a.wav', 'b.flac'].map((f) => engine.record({ path: join(dir, f) })))
  await sleep(300)
  await engine.close()
  for (const rec of recs) {
    t.true(existsSync(rec.path), rec.path)
    const r = await rec.stop()
    t.is(r.droppedFrames, 0)
    t.true(r.frames > SR / 10, `${r.frames}`)
  }
  t.is(readWav(recs[0].path).channels[0].length, (await recs[0].stop()).frames)
  t.false(readdirSync(dir).some((f) => f.endsWith('.part')))
  rmSync(dir, { recursive: true, force: true })
})
