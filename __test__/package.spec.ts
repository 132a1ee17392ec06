import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

const root = join(__dirname, '..')

function node(args: string[], cwd = root): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

test('the package loads from CommonJS and ESM with the same exports', (t) => {
  const names = ['Graph', 'AutomationLane', 'renderOffline', 'Engine', 'listDevices', 'secondsToFrames', 'framesToSeconds', 'writeWav', 'readWav']
  const cjs = node(['-e', `const m = require('ferrite-audio'); console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`])
  const esm = node(['--input-type=module', '-e', `import * as m from 'ferrite-audio'; console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`])
  t.deepEqual(JSON.parse(cjs), ['function', 'function', 'function', 'function', 'function', 'function', 'function', 'function', 'function'])
  t.deepEqual(JSON.parse(esm), JSON.parse(cjs))
  // And a real render from each.
  const run = `const g = new m.Graph(); g.connect(g.constant({ value: 0.5 }), g.output); m.renderOffline(g, { sampleRate: 8000, frames: 4 }).then((r) => console.log(r.channels[1][3]))`
  t.is(node(['-e', `const m = require('ferrite-audio'); ${run}`]).trim(), '0.5')
  t.is(node(['--input-type=module', '-e', `import * as m from 'ferrite-audio'; ${run}`]).trim(), '0.5')
})

test('loading the package leaves node:worker_threads unloaded until a TypeScript processor runs', (t) => {
  // Start-up cost of every program that imports the package (the CLI's
  // analyses among them): the module is loaded by the processor host only.
  const script = (render: string) => `
    const m = require('ferrite-audio')
    const loaded = () => process.moduleLoadList.some((n) => n.includes('worker_threads'))
    const before = loaded()
    ${render}.then(() => { console.log(JSON.stringify([before, loaded()])); process.exit(0) })`
  const plain = `m.renderOffline((() => { const g = new m.Graph(); g.connect(g.constant({ value: 0.5 }), g.output); return g })(), { sampleRate: 8000, frames: 4 })`
  t.deepEqual(JSON.parse(node(['-e', script(plain)])), [false, false])
  const mod = join(__dirname, 'fixtures', 'tremolo.mjs')
  const withProcessor = `m.renderOffline((() => { const g = new m.Graph(); const p = g.processor({ module: ${JSON.stringify(mod)} }); g.connect(g.constant({ value: 0.5 }), p); g.connect(p, g.output); return g })(), { sampleRate: 8000, frames: 256 })`
  t.deepEqual(JSON.parse(node(['-e', script(withProcessor)])), [false, true])
})

test('index.mjs re-exports every export of index.js, the same values', (t) => {
  // index.ts re-exports the modules under ts/; index.mjs lists the names by hand.
  const script = `
    import { createRequire } from 'node:module'
    import * as esm from 'ferrite-audio'
    const cjs = createRequire(process.cwd() + '/')('ferrite-audio')
    const names = Object.keys(cjs)
    console.log(JSON.stringify({ names, esm: Object.keys(esm).filter((n) => n !== 'default'), same: names.every((n) => esm[n] === cjs[n]) && esm.default === cjs }))`
  const r = JSON.parse(node(['--input-type=module', '-e', script]))
  t.true(r.names.includes('GRAPH_FORMAT_VERSION') && r.names.includes('Graph'))
  t.deepEqual([...r.esm].sort(), [...r.names].sort())
  t.true(r.same)
})

test("the README's TypeScript examples run", (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
  t.true(blocks.length >= 2)
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-readme-'))
  try {
    blocks.forEach((code, i) => {
      // Run inside the package so that 'ferrite-audio' resolves to this build.
      const file = join(root, `.readme-example-${i}.mts`)
      writeFileSync(file, code.replace("'sweep.wav'", JSON.stringify(join(dir, 'sweep.wav'))).replace('// ...', 'await new Promise((r) => setTimeout(r, 300))'))
      try {
        const out = execFileSync(process.execPath, ['--import=tsx', file], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        t.log(`example ${i}: ${out.trim().split('\n').slice(0, 3).join(' | ')}`)
        if (i === 0) {
          const [latency, truePeak] = out.trim().split('\n').map(Number)
          t.is(latency, 240)
          t.true(truePeak <= -0.9 && truePeak > -30, `true peak ${truePeak}`)
          t.true(existsSync(join(dir, 'sweep.wav')))
        } else {
          t.true(out.trim().split('\n').length >= 3, 'meters arrived')
        }
      } finally {
        rmSync(file, { force: true })
      }
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('writeWav/readWav round-trip and refuse bad input clearly', async (t) => {
  const { writeWav, readWav } = await import('../index')
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-wav-'))
  try {
    const l = Float32Array.from({ length: 500 }, (_, i) => Math.sin(i / 10) * 0.5)
    const r = Float32Array.from(l, (x) => -x)
    for (const bitDepth of [16, 24, 32] as const) {
      const p = join(dir, `t${bitDepth}.wav`)
      writeWav(p, [l, r], 44100, { bitDepth })
      const w = readWav(p)
      t.is(w.sampleRate, 44100)
      t.is(w.channels.length, 2)
      const tol = bitDepth === 32 ? 0 : 1 / 2 ** (bitDepth - 1)
      t.true(w.channels[1].every((x, i) => Math.abs(x - r[i]) <= tol))
    }
    t.throws(() => readWav(join(dir, 'missing.wav')), { instanceOf: Error, message: /readWav: cannot read .*missing\.wav/ })
    t.throws(() => writeWav(join(dir, 'x.wav'), [l], 44100, { bitDepth: 8 as 16 }), { instanceOf: RangeError, message: /bitDepth = 8/ })
    t.throws(() => writeWav(join(dir, 'x.wav'), [l, new Float32Array(3)], 44100), { instanceOf: RangeError })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
