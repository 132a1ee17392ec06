// Issue 26, item 3: renders and file jobs run on threads of their own, not on
// libuv's pool (4 threads shared with fs, crypto, dns and zlib), and a process
// that exits does not wait for the render in flight.
import test from 'ava'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Graph, renderOffline } from '../index'

/** `tracks` oscillators, each through an 8-band EQ, into the output. */
function heavy(tracks: number): Graph {
  const g = new Graph()
  for (let t = 0; t < tracks; t++) {
    const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking' as const, frequency: 100 * (b + 1) + t, q: 1, gainDb: 2 }))
    g.chain(g.oscillator({ frequency: 55 + t, amplitude: 0.01 }), g.eq({ bands }), g.output)
  }
  return g
}

test('four renders in flight leave libuv\'s pool free: a file read completes before any of them', async (t) => {
  const g = heavy(64)
  const order: string[] = []
  const renders = Array.from({ length: 4 }, (_, i) =>
    renderOffline(g, { sampleRate: 48000, frames: 48000 * 20, channels: 2 }).then(() => order.push(`render ${i}`)),
  )
  // With each render holding a pool thread, this read waited for the first to end.
  await readFile(join(import.meta.dirname, 'off-pool.spec.ts')).then(() => order.push('readFile'))
  await Promise.all(renders)
  t.log(order.join(', '))
  t.is(order[0], 'readFile')
  t.is(order.length, 5)
})

test('process.exit() ends a process at once while a long render is in flight', async (t) => {
  const script = `
    const { Graph, renderOffline } = require(${JSON.stringify(join(import.meta.dirname, '..', 'index.js'))});
    const g = new Graph();
    for (let t = 0; t < 256; t++) {
      const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking', frequency: 100 * (b + 1) + t, q: 1, gainDb: 2 }));
      g.chain(g.oscillator({ frequency: 55 + t, amplitude: 0.01 }), g.eq({ bands }), g.output);
    }
    renderOffline(g, { sampleRate: 48000, frames: 48000 * 900, channels: 1 }).then(() => console.log('render finished'));
    setTimeout(() => { console.log('exiting'); process.exit(0) }, 300);
  `
  const start = Date.now()
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const seconds = (Date.now() - start) / 1000
  t.log(`child exited with ${code} after ${seconds.toFixed(2)} s: ${out.trim()}`)
  t.is(code, 0)
  t.is(out.trim(), 'exiting', 'the render (15 minutes of 256 EQ tracks, many seconds of work) did not finish first')
  t.true(seconds < 10, `${seconds} s`)
})
