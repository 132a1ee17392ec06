// A throwaway redis-server (Debian's package; scripts/setup.sh and .ci/run
// install it) on a free loopback port, without persistence, for the queue tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

export interface RedisServer {
  url: string
  stop(): Promise<void>
}

/** Starts redis-server; rejects with what to install when it is missing. */
export async function startRedis(): Promise<RedisServer> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error) {
    throw new Error('redis-server is not installed: the queue tests need it (apt-get install redis-server; scripts/setup.sh installs it when run as root)')
  }
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-redis-'))
  // A port taken between freePort() and redis-server's bind makes it exit: try another.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const ready = await new Promise<boolean>((resolve, reject) => {
      let out = ''
      const onData = (d: Buffer) => {
        out += d
        if (/Ready to accept connections/.test(out)) resolve(true)
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.on('error', reject)
      child.on('exit', (code) => {
        if (attempt < 3 && /Address already in use/.test(out)) resolve(false)
        else reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`))
      })
    })
    if (!ready) continue
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: () =>
        new Promise((resolve) => {
          child.once('exit', () => {
            rmSync(dir, { recursive: true, force: true })
            resolve()
          })
          child.kill('SIGTERM')
        }),
    }
  }
}
