import anyTest from 'ava'

// Engines open SCHED_FIFO threads: run these one at a time.
const test = anyTest.serial
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutomationLane, Engine, Graph, readWav, renderOffline } from '../index'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const SR = 48000

/** 16 tracks (enough for the planner to split them) (oscillator → 8-band EQ → compressor → gain → pan, a lookahead limiter with latency on some) into a master with a meter. */
function session(): Graph {
  const g = new Graph()
  const master = g.gain({ gain: 0.2 })
  g.chain(master, g.limiter({ ceilingDb: -1 }), g.meter({ name: 'master' }), g.output)
  for (let t = 0; t < 16; t++) {
    const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking' as const, frequency: 100 * (b + 1) ** 2, q: 1, gainDb: b % 2 ? -3 : 3 }))
    const dyn = t % 3 === 1 ? g.limiter({ ceilingDb: -9, lookaheadMs: 1.5 }) : g.compressor({ thresholdDb: -20 })
    const gain = g.gain({ gain: 0.5 })
    g.chain(g.oscillator({ type: 'saw', frequency: 55 + t * 13, amplitude: 0.3 }), g.eq({ bands }), dyn, gain, g.pan({ pan: t / 16 - 0.5 }), master)
    if (t === 2) g.automate(gain, 'gain', new AutomationLane().add(0, 0.5).add(96000, 0.1))
  }
  return g
}

test('an engine on 2 threads plays the samples of a 1-thread offline render and reports its threads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-rt-threads-'))
  const engine = await Engine.openNull({ sampleRate: SR, bufferSize: 128, threads: 2 })
  try {
    t.is(engine.stats().threads, 2)
    const g = session()
    engine.setGraph(g)
    await sleep(100)
    const start = engine.position + 24000
    const take = await engine.record({ path: join(dir, 'rt.wav'), bitDepth: 32, startFrame: start, endFrame: start + 24000 })
    while (engine.position < start + 30000) await sleep(50)
    await take.stop()
    const rt = readWav(join(dir, 'rt.wav'))
    const off = await renderOffline(g, { sampleRate: SR, frames: start + 24000, threads: 1 })
    let differ = 0
    for (let c = 0; c < 2; c++) for (let i = 0; i < 24000; i++) if (rt.channels[c][i] !== off.channels[c][start + i]) differ++
    t.is(differ, 0)
    t.true(rt.channels[0].some((v) => Math.abs(v) > 0.01), 'the session is heard')
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('Engine.open and openNull take threads from 1 to 64', async (t) => {
  for (const threads of [0, 65, 1.5, -1, Number.NaN]) {
    await t.throwsAsync(Engine.openNull({ threads }), { instanceOf: RangeError, message: /threads/ })
    await t.throwsAsync(Engine.open({ threads }), { instanceOf: RangeError, message: /threads/ })
  }
  await t.throwsAsync(Engine.openNull({ threads: '2' as never }), { instanceOf: TypeError, message: /threads/ })
  const one = await Engine.openNull({ threads: 1 })
  try {
    t.is(one.stats().threads, 1)
  } finally {
    await one.close()
  }
  const byDefault = await Engine.openNull()
  try {
    t.is(byDefault.stats().threads, Math.min(availableParallelism(), 64), 'every core by default')
  } finally {
    await byDefault.close()
  }
})
