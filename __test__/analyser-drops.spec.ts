// Issue 26: analysers count the frames their ring to the events thread had
// no room for, and stats() reports them (analyserDroppedFrames).
import anyTest from 'ava'
import { Engine, Graph } from '../index'

// Engines open SCHED_FIFO threads: run these one at a time.
const test = anyTest.serial
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function analysed(fftSize: number): Graph {
  const g = new Graph()
  g.chain(g.oscillator({ frequency: 440, amplitude: 0.5 }), g.analyser({ name: 'a', fftSize }), g.output)
  return g
}

test('a normal run drops no analyser frame', async (t) => {
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    engine.setGraph(analysed(2048))
    let spectra = 0
    const off = engine.onSpectrum(() => spectra++, { fps: 30 })
    engine.play()
    await sleep(1000)
    off()
    const s = engine.stats()
    t.log(`${s.framesRendered} frames, ${spectra} spectra`)
    t.true(s.framesRendered >= 24000, `${s.framesRendered}`)
    t.true(spectra > 0)
    t.is(s.analyserDroppedFrames, 0)
  } finally {
    await engine.close()
  }
})

test('an analyser ring too small for a block drops and counts: 96 to 128 of every 128 frames', async (t) => {
  // The test hook shrinks the ring to the FFT (32 frames) and nothing more:
  // a 128-frame block finds room for 32 frames at most, whoever drains it.
  process.env.FERRITE_TEST_ANALYSER_SLACK = '0'
  const engine = await Engine.openNull({ sampleRate: 48000, bufferSize: 128 })
  try {
    engine.setGraph(analysed(32))
    delete process.env.FERRITE_TEST_ANALYSER_SLACK
    engine.play()
    await sleep(300)
    const a = engine.stats()
    await sleep(700)
    const b = engine.stats()
    const frames = b.framesRendered - a.framesRendered
    const dropped = b.analyserDroppedFrames - a.analyserDroppedFrames
    t.log(`${frames} frames rendered, ${dropped} dropped between the two readings; ${b.analyserDroppedFrames} in all`)
    t.true(a.analyserDroppedFrames > 0)
    t.true(frames >= 128 * 10, `${frames}`)
    // Each block of 128 frames drops at least 96 and at most 128; the two
    // readings may each fall in the middle of a block.
    t.true(dropped >= 0.75 * frames - 128 && dropped <= frames + 128, `${dropped} of ${frames}`)
    // A graph with a normal ring stops the count.
    engine.setGraph(analysed(2048))
    await sleep(300)
    const c = engine.stats()
    await sleep(500)
    t.is(engine.stats().analyserDroppedFrames, c.analyserDroppedFrames)
  } finally {
    delete process.env.FERRITE_TEST_ANALYSER_SLACK
    await engine.close()
  }
})
