// Fixtures made with ffmpeg (installed by scripts/setup.sh and .ci/run), and
// ffmpeg's own readings of them: the references the file tests compare with.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, renameSync } from 'node:fs'
import { join } from 'node:path'

/** Stereo 44.1 kHz test signal: tones and a chirp, made by ffmpeg's expression evaluator. */
export const SOURCE = 'aevalsrc=0.5*sin(2*PI*997*t)+0.1*sin(2*PI*(200*t+1000*t*t))|0.3*sin(2*PI*440*t)-0.2*sin(2*PI*3100*t):s=44100:d=3'

export function ffmpeg(args: string[]): string {
  return execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).toString()
}

/** `dir/name`, encoded from `source` with `encode` options, made once. */
export function fixture(dir: string, name: string, encode: string[], source = SOURCE): string {
  const p = join(dir, name)
  if (!existsSync(p)) {
    const tmp = join(dir, `tmp-${name}`)
    ffmpeg(['-loglevel', 'error', '-f', 'lavfi', '-i', source, ...encode, tmp])
    renameSync(tmp, p)
  }
  return p
}

/** ffmpeg's decode of `path` as planar Float32Arrays. */
export function ffmpegDecode(path: string, channels: number): Float32Array[] {
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, '-f', 'f32le', '-acodec', 'pcm_f32le', '-'], { maxBuffer: 1 << 30 })
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
  const n = all.length / channels
  return Array.from({ length: channels }, (_, c) => {
    const ch = new Float32Array(n)
    for (let i = 0; i < n; i++) ch[i] = all[i * channels + c]
    return ch
  })
}

/** ffmpeg's EBU R128 reading (`-af ebur128=peak=true`): integrated LUFS, LRA and true peak. */
export function ffmpegLoudness(path: string): { integratedLufs: number; loudnessRangeLu: number; truePeakDb: number } {
  // framelog=verbose logs each frame below the default log level: only the summary prints.
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-nostdin', '-i', path, '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-'], { maxBuffer: 1 << 26 })
  const text = r.stderr.toString()
  if (r.status !== 0) throw new Error(`ffmpeg failed on ${path}: ${text}`)
  const summary = text.slice(text.lastIndexOf('Summary:'))
  const num = (re: RegExp) => {
    const m = re.exec(summary)
    if (!m) throw new Error(`no ${re} in ffmpeg's summary:\n${summary}`)
    return Number(m[1])
  }
  return { integratedLufs: num(/I:\s+(-?[\d.]+) LUFS/), loudnessRangeLu: num(/LRA:\s+(-?[\d.]+) LU/), truePeakDb: num(/True peak:\s+Peak:\s+(-?[\d.]+) dBFS/) }
}
