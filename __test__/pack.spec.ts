// Runs scripts/pack-test.sh: `npm pack` + the linux-x64-gnu platform package,
// installed into an empty project with no Rust on PATH, used from CommonJS,
// worker_threads, ESM, strict TypeScript and the CLI.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const root = join(__dirname, '..')

function whyNot(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the pack test is for linux x64 (this is ${process.platform} ${process.arch})`
  if (!existsSync(join(root, 'ferrite-audio.linux-x64-gnu.node'))) return 'ferrite-audio.linux-x64-gnu.node is not built (npm run build)'
  const r = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8' })
  if (r.error || r.status !== 0) return `npm pack cannot run here: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`
  return null
}

test('the packed tarballs install and work without Rust (CommonJS, worker_threads, ESM, strict TypeScript, CLI)', async (t) => {
  t.timeout(10 * 60_000)
  const reason = whyNot()
  if (reason) {
    t.log(`skipped: ${reason}`)
    t.pass()
    return
  }
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('bash', [join(root, 'scripts/pack-test.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    p.on('close', (code) => resolve({ code, out }))
  })
  const lines = out.split('\n').filter((l) => !/Unknown user config|^\s*$/.test(l))
  t.log(lines.filter((l) => /^(==|cjs|esm|ts:|tsc|pack-test)/.test(l)).join('\n'))
  t.is(code, 0, lines.join('\n'))
  for (const want of ['cjs: rendered', 'cjs worker_threads: rendered', 'esm: rendered', 'tsc refuses an unknown biquad type', 'ts: rendered', 'queue without bullmq: ferrite-audio/queue needs the bullmq package', 'pack-test: OK']) {
    t.true(out.includes(want), `missing "${want}" in:\n${out}`)
  }
})
