import test from 'ava'
import { Engine, Graph } from '../index'

const fs = 48000

/** Keeps the JavaScript thread busy for `ms` milliseconds. */
function block(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) {
    // busy
  }
}

test('a JavaScript thread blocked for 2 s gets the newest meter reading once, not the backlog (issue 26)', async (t) => {
  const engine = await Engine.openNull({ sampleRate: fs, bufferSize: 128 })
  try {
    const g = new Graph()
    const gain = g.gain({ gain: 0 })
    g.chain(g.oscillator({ frequency: 1000, amplitude: 1 }), gain, g.meter({ name: 'm' }), g.output)
    engine.setGraph(g)
    await new Promise((r) => setTimeout(r, 100))
    // The level rises linearly from 0 to 1 over 4 s: a reading says when it was taken.
    engine.setParam(gain, 'gain', 1, { rampMs: 4000 })
    const start = engine.position
    const got: { at: number; peak: number }[] = []
    let unblocked = 0
    const off = engine.onMeters((m) => got.push({ at: Date.now() - unblocked, peak: 10 ** (m.m.peakDb / 20) }), {
      fps: 60,
    })
    block(2000)
    unblocked = Date.now()
    const rampAt = (engine.position - start) / (4 * fs)
    await new Promise((r) => setTimeout(r, 300))
    off()
    // 2 s at 60 fps is 120 readings; one call was queued while the thread was busy.
    const burst = got.filter((r) => r.at < 8).length
    t.log(`${got.length} callbacks in 300 ms after unblocking, ${burst} at once; ramp at ${rampAt.toFixed(3)}`)
    t.true(got.length >= 1, 'a reading arrives')
    t.true(burst <= 2, `${burst} readings delivered at once`)
    t.true(got.length <= 40, `${got.length} readings in 300 ms at 60 fps`)
    // The first reading delivered is the newest when delivered (the level at
    // about 2 s into the ramp), not the one taken when the thread stopped (about 0).
    t.true(Math.abs(got[0].peak - rampAt) < 0.1, `first reading ${got[0].peak.toFixed(3)}, level then ${rampAt.toFixed(3)}`)
  } finally {
    await engine.close()
  }
})
