'use strict'
// Loads the napi-generated loader (binding.js) and, when the native module
// cannot be loaded, rethrows with a message that says what to do: which system
// library to install, or which prebuilt package is missing. The original
// error stays available as `cause`.

function causes(e) {
  const out = []
  const seen = new Set()
  const walk = (x) => {
    if (!x || seen.has(x)) return
    seen.add(x)
    if (Array.isArray(x)) return x.forEach(walk)
    if (x.message) out.push(String(x.message))
    walk(x.cause)
    if (Array.isArray(x.errors)) x.errors.forEach(walk)
  }
  walk(e)
  return out
}

function target() {
  const { platform, arch } = process
  if (platform !== 'linux') return { platform, arch, abi: platform === 'win32' ? 'msvc' : '' }
  let musl = false
  try {
    musl = !process.report.getReport().header.glibcVersionRuntime
  } catch {}
  return { platform, arch, abi: musl ? 'musl' : 'gnu' }
}

function explain(e) {
  const messages = causes(e)
  const all = messages.join('\n')
  const t = target()
  const pkg = `ferrite-audio-${t.platform}-${t.arch}${t.abi ? `-${t.abi}` : ''}`
  let text
  if (/libasound\.so/.test(all)) {
    text =
      "ferrite-audio: the native module needs ALSA's shared library libasound.so.2, which this system cannot load.\n" +
      'Install it (the run-time library is enough, no -dev package or compiler):\n' +
      '  Debian, Ubuntu:  sudo apt-get install libasound2   (Ubuntu 24.04 and later: libasound2t64)\n' +
      '  Fedora, RHEL:    sudo dnf install alsa-lib\n' +
      '  Alpine:          apk add alsa-lib\n' +
      '  Arch:            sudo pacman -S alsa-lib\n' +
      'Containers need it too (for headless use as well: the module links against it).'
  } else if (/GLIBC_[0-9.]+' not found/.test(all)) {
    const v = /GLIBC_([0-9.]+)' not found/.exec(all)[1]
    text = `ferrite-audio: the prebuilt binary needs glibc ${v} or newer; this system has glibc ${process.report?.getReport?.().header?.glibcVersionRuntime ?? 'older'}. Use a newer distribution, or build from source (npm run build, needs Rust).`
  } else if (/Cannot find native binding/.test(all)) {
    text =
      `ferrite-audio: no prebuilt binary for ${t.platform} ${t.arch}${t.abi ? ` (${t.abi})` : ''}: the optional dependency ${pkg} is not installed.\n` +
      'Prebuilt: linux x64/arm64 (glibc, musl), macOS x64/arm64, Windows x64/arm64. If yours is one of them, reinstall with optional\n' +
      'dependencies enabled (not --no-optional / --omit=optional), or build from source (npm run build, needs Rust).'
  } else {
    return e
  }
  const err = new Error(`${text}\nDetails: ${messages.slice(1).filter((m) => !/Cannot find module '(ferrite-audio-wasm32-wasi|\.\/ferrite-audio\.wasi\.cjs)'/.test(m)).map((m) => m.split('\n')[0]).join('; ')}`)
  err.code = 'FERRITE_LOAD_FAILED'
  err.cause = e
  return err
}

try {
  module.exports = require('./binding.js')
} catch (e) {
  throw explain(e)
}
