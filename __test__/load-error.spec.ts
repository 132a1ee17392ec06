// load-binding.js: when the native module cannot load, the error says what to install.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

const root = join(__dirname, '..')

/** Loads load-binding.js next to a fake binding.js whose body is `fake`; returns the error message or 'ok'. */
function loadWithFake(fake: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-load-'))
  try {
    copyFileSync(join(root, 'load-binding.js'), join(dir, 'load-binding.js'))
    writeFileSync(join(dir, 'binding.js'), fake)
    const r = spawnSync(process.execPath, ['-e', `try { const b = require('./load-binding.js'); console.log(b.answer === 42 ? 'ok' : 'wrong export') } catch (e) { console.log(e.code || ''); console.log(e.message) }`], {
      cwd: dir,
      encoding: 'utf8',
    })
    return r.stdout.trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// What napi's generated loader throws: a generic message, the real reasons in `cause`.
const napiError = (reasons: string[]) => `
  const reasons = ${JSON.stringify(reasons)}
  let cause
  for (const m of reasons.reverse()) { const e = new Error(m); e.cause = cause; cause = e }
  const e = new Error('Cannot find native binding. npm has a bug related to optional dependencies (https://github.com/npm/cli/issues/4828).')
  e.cause = cause
  throw e
`

test('a missing libasound.so.2 names the package to install', (t) => {
  const msg = loadWithFake(napiError(["Cannot find module 'ferrite-audio-linux-x64-gnu'", 'libasound.so.2: cannot open shared object file: No such file or directory']))
  t.regex(msg, /^FERRITE_LOAD_FAILED/)
  t.regex(msg, /needs ALSA's shared library libasound\.so\.2/)
  t.regex(msg, /apt-get install libasound2/)
  t.regex(msg, /dnf install alsa-lib/)
  t.regex(msg, /apk add alsa-lib/)
  t.regex(msg, /Details: .*cannot open shared object file/)
})

test('a missing platform package says which one and how to get it', (t) => {
  const msg = loadWithFake(napiError(["Cannot find module './ferrite-audio.linux-x64-gnu.node'", "Cannot find module 'ferrite-audio-linux-x64-gnu'"]))
  t.regex(msg, /no prebuilt binary for/)
  t.regex(msg, /optional dependency ferrite-audio-\w+-\w+/)
  t.regex(msg, /--omit=optional/)
})

test('a too old glibc is named', (t) => {
  const msg = loadWithFake(napiError(["/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.99' not found (required by ferrite-audio.linux-x64-gnu.node)"]))
  t.regex(msg, /needs glibc 2\.99 or newer/)
})

test('other errors pass through unchanged, and a working binding is exported as is', (t) => {
  t.is(loadWithFake(`throw new Error('something else')`), 'something else')
  t.is(loadWithFake('module.exports = { answer: 42 }'), 'ok')
})

test('for real: with libasound.so.2 unloadable, requiring the package says what to install', (t) => {
  const lib = ['/usr/lib/x86_64-linux-gnu/libasound.so.2', '/usr/lib/aarch64-linux-gnu/libasound.so.2', '/usr/lib/libasound.so.2'].find((p) => existsSync(p))
  const unshare = spawnSync('unshare', ['-m', 'true'])
  if (process.platform !== 'linux' || !lib || unshare.status !== 0) {
    t.log(`skipped: needs Linux, libasound.so.2 and a private mount namespace (unshare -m; ${unshare.error?.message ?? unshare.stderr?.toString().trim() ?? ''})`)
    t.pass()
    return
  }
  // In a private mount namespace, the library file reads as empty: the dynamic loader refuses it.
  const script = `mount --bind /dev/null ${realpathSync(lib)} && exec "${process.execPath}" -e "require('./index.js')"`
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { cwd: root, encoding: 'utf8' })
  t.not(r.status, 0)
  t.regex(r.stderr, /the native module needs ALSA's shared library libasound\.so\.2/)
  t.regex(r.stderr, /sudo apt-get install libasound2/)
})
