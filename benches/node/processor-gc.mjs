// node --trace-gc benches/node/processor-gc.mjs [copy|gain] — renders 100 000
// blocks offline through one `processor` node: `copy` (no parameters) or
// `gain` (one parameter, constant at 0.7, so `process` gets a number). Count
// the worker isolate's Scavenge lines after its start-up: none means the
// block loop allocates nothing on the worker's heap.
import { Graph, renderOffline } from '../../index.mjs'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const kind = process.argv[2] ?? 'copy'
let module = fileURLToPath(new URL('processor-copy.mjs', import.meta.url))
if (kind === 'gain') {
  module = join(tmpdir(), 'ferrite-gc-gain.mjs')
  writeFileSync(
    module,
    `export default class Gain {
  static parameters = { gain: { default: 1, min: 0, max: 2 } }
  process(inputs, outputs, params) {
    const g = params.gain
    for (let c = 0; c < outputs.length; c++)
      for (let i = 0; i < 128; i++) outputs[c][i] = inputs[c][i] * (typeof g === 'number' ? g : g[i])
  }
}`,
  )
}
const frames = 100_000 * 128
const g = new Graph()
g.chain(g.input, g.processor({ module, params: kind === 'gain' ? { gain: 0.7 } : {} }), g.output)
const t0 = performance.now()
await renderOffline(g, { sampleRate: 48000, frames, channels: 1, input: [new Float32Array(frames).fill(0.5)] })
console.log(`${kind}: 100000 blocks in ${(performance.now() - t0).toFixed(0)} ms`)
