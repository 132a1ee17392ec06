#!/usr/bin/env node
// Writes `optionalDependencies` (one per-platform package per napi target, at
// the root package's version) into a package.json — by default the root one.
// This is what `napi pre-publish` does: the committed package.json does not
// list the platform packages, because `npm ci` refuses a lock file without
// entries for them, and they have no entries until they are published.
//
//   node scripts/set-optional-deps.js [path/to/package.json] [--check]
//
// --check: change nothing; fail unless every npm/<platform>/package.json
// exists, has the root version, and its name matches a target.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const args = process.argv.slice(2)
const check = args.includes('--check')
const file = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(root, 'package.json'))

/** napi's platform directory name for a Rust target triple (as `napi create-npm-dirs` names them). */
function platformOf(triple) {
  const [cpu, , sys, abi] = triple.split('-')
  const arch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[cpu] ?? cpu
  const platform = { linux: 'linux', darwin: 'darwin', windows: 'win32', freebsd: 'freebsd' }[sys] ?? sys
  return abi ? `${platform}-${arch}-${abi}` : `${platform}-${arch}`
}

const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const targets = rootPkg.napi?.targets ?? []
const deps = Object.fromEntries(targets.map((t) => [`${rootPkg.napi.binaryName}-${platformOf(t)}`, pkg.version]))

if (check) {
  const problems = []
  for (const t of targets) {
    const dir = path.join(root, 'npm', platformOf(t))
    const p = path.join(dir, 'package.json')
    if (!fs.existsSync(p)) {
      problems.push(`${p} is missing (npx napi create-npm-dirs)`)
      continue
    }
    const sub = JSON.parse(fs.readFileSync(p, 'utf8'))
    if (!(sub.name in deps)) problems.push(`${p}: name ${sub.name} matches no target`)
    if (sub.version !== pkg.version) problems.push(`${p}: version ${sub.version}, root is ${pkg.version}`)
  }
  if (problems.length) {
    console.error(problems.join('\n'))
    process.exit(1)
  }
  console.log(`${targets.length} platform packages at ${pkg.version}: ${Object.keys(deps).join(', ')}`)
  process.exit(0)
}

pkg.optionalDependencies = { ...(pkg.optionalDependencies ?? {}), ...deps }
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n')
console.log(`${path.relative(process.cwd(), file) || file}: optionalDependencies ${Object.keys(deps).join(', ')} @ ${pkg.version}`)
