// Files: probeFile, decodeFile, resample and analyzeFile against ffmpeg's
// reading of the same files.
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { probeFile, decodeFile, resample, analyzeFile, renderToFile, normalizeFile, Graph, renderOffline } from '../index'
import { fixture, ffmpegDecode, ffmpegLoudness } from './ffmpeg-fixtures'

let dir: string
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferrite-files-'))
})
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
})

const FORMATS: Array<[string, string[], string, string, number | undefined]> = [
  ['s16.wav', ['-c:a', 'pcm_s16le'], 'wav', 'pcm', 16],
  ['f32.wav', ['-c:a', 'pcm_f32le'], 'wav', 'pcm', 32],
  ['s24.aiff', ['-c:a', 'pcm_s24be'], 'aiff', 'pcm', 24],
  ['s16.flac', ['-c:a', 'flac', '-sample_fmt', 's16'], 'flac', 'flac', 16],
  ['alac.m4a', ['-c:a', 'alac', '-sample_fmt', 's16p'], 'mp4', 'alac', 16],
  ['s16.caf', ['-c:a', 'pcm_s16le'], 'caf', 'pcm', 16],
  ['lame.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k'], 'mp3', 'mp3', undefined],
  ['vorbis.ogg', ['-c:a', 'libvorbis', '-q:a', '6'], 'ogg', 'vorbis', undefined],
  ['aac.m4a', ['-c:a', 'aac', '-b:a', '192k'], 'mp4', 'aac', undefined],
]

test('probeFile names container, codec, rate, channels, exact length and bit depth of every format', async (t) => {
  for (const [name, enc, format, codec, bitDepth] of FORMATS) {
    const p = fixture(dir, name, enc)
    const info = await probeFile(p)
    t.like(info, { path: p, format, codec, sampleRate: 44100, channels: 2, frames: 3 * 44100 }, name)
    t.is(info.bitDepth, bitDepth, `${name}: bitDepth`)
  }
})

test('decodeFile gives ffmpeg\'s samples: lossless bit for bit, lossy aligned and gapless', async (t) => {
  for (const [name, enc, , codec] of FORMATS) {
    const p = fixture(dir, name, enc)
    const d = await decodeFile(p)
    t.is(d.sampleRate, 44100)
    t.is(d.channels.length, 2)
    t.is(d.channels[0].length, 3 * 44100, `${name}: frames`)
    const ref = ffmpegDecode(p, 2)
    if (['pcm', 'flac', 'alac'].includes(codec)) {
      t.deepEqual(d.channels[0], ref[0], `${name}: channel 0 bit for bit`)
      t.deepEqual(d.channels[1], ref[1], `${name}: channel 1 bit for bit`)
    } else {
      // Against the lossless source (ffmpeg's own lossy decode may keep or drop priming differently).
      const src = ffmpegDecode(fixture(dir, 's16.wav', ['-c:a', 'pcm_s16le']), 2)
      let e = 0
      let s = 0
      for (let i = 0; i < src[0].length; i++) {
        e += (d.channels[0][i] - src[0][i]) ** 2
        s += src[0][i] ** 2
      }
      t.true(10 * Math.log10(e / s) < -25, `${name}: ${(10 * Math.log10(e / s)).toFixed(1)} dB from the source`)
    }
  }
})

test('decodeFile resamples, converts channels and slices at the output rate', async (t) => {
  const p = fixture(dir, 's16.flac', ['-c:a', 'flac', '-sample_fmt', 's16'])
  const whole = await decodeFile(p, { sampleRate: 48000 })
  t.is(whole.sampleRate, 48000)
  t.is(whole.channels[0].length, 3 * 48000)
  t.is(whole.info.sampleRate, 44100)
  // The 997 Hz tone of channel 0 is at pitch: count zero crossings over 2 s.
  let crossings = 0
  const c0 = whole.channels[0]
  for (let i = 24000 + 1; i < 24000 + 96000; i++) if (c0[i - 1] < 0 && c0[i] >= 0) crossings++
  t.true(Math.abs(crossings - 2 * 997) <= 30, `${crossings} upward crossings in 2 s`)
  const part = await decodeFile(p, { sampleRate: 48000, startFrame: 30000, frames: 1000, channels: 1 })
  t.is(part.channels.length, 1)
  t.is(part.channels[0].length, 1000)
  for (let i = 0; i < 1000; i += 97) {
    const mean = (whole.channels[0][30000 + i] + whole.channels[1][30000 + i]) / 2
    t.true(Math.abs(part.channels[0][i] - mean) < 1e-5, `frame ${i}`)
  }
})

test('resample keeps a tone\'s level and the length ratio', async (t) => {
  const x = new Float32Array(44100)
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 997 * i) / 44100)
  const [y] = await resample([x], 44100, 48000)
  t.is(y.length, 48000)
  let s = 0
  for (let i = 4800; i < 43200; i++) s += y[i] * y[i]
  const rmsDb = 10 * Math.log10(s / (43200 - 4800))
  t.true(Math.abs(rmsDb - 20 * Math.log10(0.5 / Math.SQRT2)) < 0.01, `${rmsDb}`)
  await t.throwsAsync(resample([x], 44100, 0), { instanceOf: RangeError })
})

test('analyzeFile reads every format within 0.2 LU of ffmpeg and as a meter node reads the decoded samples', async (t) => {
  for (const [name, enc] of FORMATS) {
    const p = fixture(dir, name, enc)
    const a = await analyzeFile(p)
    const ref = ffmpegLoudness(p)
    t.true(Math.abs(a.integratedLufs - ref.integratedLufs) <= 0.2, `${name}: ${a.integratedLufs} vs ffmpeg ${ref.integratedLufs} LUFS`)
    t.true(Math.abs(a.truePeakDb - ref.truePeakDb) <= 0.5, `${name}: true peak ${a.truePeakDb} vs ${ref.truePeakDb}`)
    t.is(a.info.frames, 3 * 44100)
  }
  // Loudness range needs a longer programme: 10 s at about -23 LUFS, then 10 s 10 dB lower.
  const steps = fixture(dir, 'steps.flac', ['-c:a', 'flac'], 'aevalsrc=if(lt(t\\,10)\\,0.1\\,0.0316)*sin(2*PI*1000*t):s=44100:d=20')
  const a20 = await analyzeFile(steps)
  const ref20 = ffmpegLoudness(steps)
  t.true(Math.abs(a20.loudnessRangeLu - ref20.loudnessRangeLu) <= 0.5, `LRA ${a20.loudnessRangeLu} vs ffmpeg ${ref20.loudnessRangeLu}`)
  t.true(Math.abs(a20.integratedLufs - ref20.integratedLufs) <= 0.2, `I ${a20.integratedLufs} vs ffmpeg ${ref20.integratedLufs}`)
  // The same reading a meter node gives for the decoded samples (PCM files
  // have their true peak measured on the decoding thread: the same reading).
  for (const [name, enc] of FORMATS.filter(([n]) => n === 'lame.mp3' || n === 's16.wav' || n === 's24.aiff')) {
    const p = fixture(dir, name, enc)
    const d = await decodeFile(p)
    const g = new Graph()
    g.chain(g.player({ channels: d.channels }), g.meter({ name: 'm' }), g.output)
    const r = await renderOffline(g, { sampleRate: 44100, frames: d.channels[0].length, channels: 2 })
    const a = await analyzeFile(p)
    t.is(a.integratedLufs, r.meters.m.integratedLufs, name)
    t.is(a.truePeakDb, r.meters.m.truePeakDb, name)
    t.is(a.peakDb, r.meters.m.peakDb, name)
    t.is(a.loudnessRangeLu, r.meters.m.loudnessRangeLu, name)
  }
})

test('analyzeFile measures a long file on several threads as one meter: lossless, MP3 and AAC', async (t) => {
  // 75 s: two segments of at least 30 s. Noise under a slow swell and a
  // tone stepping down every 5 s (a loudness range), so where the file is
  // cut matters to every reading.
  const long = 'aevalsrc=(0.2+0.15*sin(2*PI*t/17))*(random(0)-0.5)+if(lt(mod(t\\,10)\\,5)\\,0.3\\,0.05)*sin(2*PI*997*t)|0.25*sin(2*PI*440*t)*(0.6+0.4*cos(2*PI*t/23)):s=44100:d=75'
  for (const [name, enc] of [
    ['long.flac', ['-c:a', 'flac']],
    ['long.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k']],
    ['long.m4a', ['-c:a', 'aac', '-b:a', '192k']],
  ] as Array<[string, string[]]>) {
    const p = fixture(dir, name, enc, long)
    const one = await analyzeFile(p, { threads: 1 })
    const ref = ffmpegLoudness(p)
    t.true(Math.abs(one.integratedLufs - ref.integratedLufs) <= 0.2, `${name}: ${one.integratedLufs} vs ffmpeg ${ref.integratedLufs}`)
    t.true(one.loudnessRangeLu > 3, `${name}: range ${one.loudnessRangeLu}`)
    for (const threads of [2, 3]) {
      const a = await analyzeFile(p, { threads })
      const what = `${name}, ${threads} threads`
      t.is(a.info.frames, one.info.frames, what)
      // AAC's decoder fills noise-substituted bands (PNS, which ffmpeg's
      // encoder uses) from a running random generator: decoded from a cut,
      // that noise differs (integrated by about 4e-8 LU here, momentary 2e-5). Every other codec
      // decodes the same samples from a cut.
      const tol = name.endsWith('.m4a') ? 1e-3 : 1e-9
      if (tol === 1e-9) {
        t.is(a.peakDb, one.peakDb, `${what}: sample peak`)
        t.is(a.truePeakDb, one.truePeakDb, `${what}: true peak`)
      }
      for (const k of ['peakDb', 'truePeakDb', 'integratedLufs', 'loudnessRangeLu', 'rmsDb', 'momentaryLufs', 'shortTermLufs'] as const) {
        t.true(Math.abs(a[k] - one[k]) <= tol, `${what}: ${k} ${a[k]} vs ${one[k]}`)
      }
    }
  }
  const p = fixture(dir, 's16.wav', ['-c:a', 'pcm_s16le'])
  await t.throwsAsync(analyzeFile(p, { threads: 0 }), { instanceOf: RangeError, message: /analyzeFile: threads = 0/ })
  await t.throwsAsync(analyzeFile(p, { threads: 2.5 }), { instanceOf: RangeError, message: /threads/ })
  await t.throwsAsync(analyzeFile(p, { thread: 2 } as never), { instanceOf: TypeError, message: /unknown parameter 'thread'/ })
})

test('files that are not audio are refused with an Error naming the file and the reason', async (t) => {
  const text = join(dir, 'notes.mp3')
  writeFileSync(text, 'not audio at all, just text')
  const empty = join(dir, 'empty.flac')
  writeFileSync(empty, '')
  const sub = join(dir, 'folder.wav')
  mkdirSync(sub, { recursive: true })
  for (const [p, reason] of [
    [text, 'not an audio file (no known container signature)'],
    [empty, 'empty'],
    [join(dir, 'missing.wav'), 'no such file'],
    [sub, 'directory'],
  ] as const) {
    for (const f of [probeFile, decodeFile, analyzeFile] as Array<(p: string) => Promise<unknown>>) {
      const e = await t.throwsAsync(f(p), { instanceOf: Error })
      t.true(e!.message.includes(p) && e!.message.includes(reason), e!.message)
    }
  }
  await t.throwsAsync(probeFile(42 as any), { instanceOf: TypeError })
  await t.throwsAsync(decodeFile(text, { sampleRate: -1 }), { instanceOf: RangeError })
})

/** The file writers' rule: scale by 2^(bits-1), round half away from zero, clip. */
function quantise(x: number, bits: number): number {
  const s = 2 ** (bits - 1)
  const q = Math.sign(x) * Math.round(Math.abs(x) * s)
  return Math.min(s - 1, Math.max(-s, q)) / s
}

function toneGraph(): Graph {
  const g = new Graph()
  g.chain(g.oscillator({ type: 'saw', frequency: 220, amplitude: 0.4 }), g.biquad({ type: 'lowpass', frequency: 3000 }), g.meter({ name: 'm' }), g.output)
  return g
}

test('renderToFile writes what renderOffline renders: float WAV bit for bit, FLAC quantised', async (t) => {
  const frames = 100_003
  const ref = await renderOffline(toneGraph(), { sampleRate: 48000, frames })
  const wav = join(dir, 'render.wav')
  const seen: number[] = []
  const r = await renderToFile(toneGraph(), { path: wav, sampleRate: 48000, frames, bitDepth: 32, onProgress: (d, n) => seen.push(d / n) })
  t.is(r.frames, frames)
  t.is(r.meters.m.integratedLufs, ref.meters.m.integratedLufs)
  t.is(seen[seen.length - 1], 1)
  const back = await decodeFile(wav)
  t.deepEqual(back.channels[0], ref.channels[0])
  t.deepEqual(back.channels[1], ref.channels[1])
  const flac = join(dir, 'render.flac')
  await renderToFile(toneGraph(), { path: flac, sampleRate: 48000, frames, bitDepth: 24, blockSize: 37 })
  const info = await probeFile(flac)
  t.like(info, { format: 'flac', codec: 'flac', sampleRate: 48000, channels: 2, frames, bitDepth: 24 })
  const f = ffmpegDecode(flac, 2)
  let bad = 0
  for (let i = 0; i < frames; i++) if (f[0][i] !== quantise(ref.channels[0][i], 24)) bad++
  t.is(bad, 0, 'ffmpeg reads the 24-bit quantisation of the render')
})

test('renderToFile streams a file at another rate into the graph input, resampled', async (t) => {
  const src = fixture(dir, 's16.flac', ['-c:a', 'flac', '-sample_fmt', 's16'])
  const g = new Graph()
  g.chain(g.input, g.gain({ gain: 1 }), g.output)
  const out = join(dir, 'through.wav')
  await renderToFile(g, { path: out, sampleRate: 48000, frames: 3 * 48000 + 1000, bitDepth: 32, input: src })
  const got = await decodeFile(out)
  const want = await decodeFile(src, { sampleRate: 48000 })
  t.is(got.channels[0].length, 3 * 48000 + 1000)
  t.deepEqual(got.channels[0].subarray(0, 3 * 48000), want.channels[0])
  t.deepEqual(got.channels[1].subarray(0, 3 * 48000), want.channels[1])
  t.true(got.channels[0].subarray(3 * 48000).every((x) => x === 0), 'silence after the input ends')
})

test('an aborted or failed renderToFile leaves no file, partial or temporary', async (t) => {
  const sub = mkdtempSync(join(dir, 'abort-'))
  const path = join(sub, 'long.flac')
  const ac = new AbortController()
  const p = renderToFile(toneGraph(), {
    path,
    sampleRate: 48000,
    frames: 48000 * 3600,
    signal: ac.signal,
    onProgress: (d) => {
      if (d > 0) ac.abort()
    },
  })
  const e = await t.throwsAsync(p, { instanceOf: Error })
  t.regex(e!.message, /aborted/)
  t.deepEqual(readdirSync(sub), [])
  await t.throwsAsync(renderToFile(toneGraph(), { path: join(dir, 'nope', 'x.wav'), sampleRate: 48000, frames: 10 }), { message: /nope/ })
  await t.throwsAsync(renderToFile(toneGraph(), { path: join(dir, 'x.mp3'), sampleRate: 48000, frames: 10 }), { message: /x\.mp3/ })
  await t.throwsAsync(renderToFile(toneGraph(), { path: join(dir, 'x.flac'), sampleRate: 48000, frames: 10, bitDepth: 32 }), { instanceOf: RangeError })
  await t.throwsAsync(renderToFile(toneGraph(), { path: join(dir, 'x.wav'), sampleRate: 48000, frames: 10, input: join(dir, 'missing.mp3') }), { message: /missing\.mp3: no such file/ })
  t.false(readdirSync(dir).some((f) => f.endsWith('.part')))
})

test('normalizeFile lands within 0.1 LU of the target and never above the true-peak ceiling', async (t) => {
  const mp3 = fixture(dir, 'lame.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k'])
  const out = join(dir, 'norm.wav')
  const r = await normalizeFile(mp3, out, { targetLufs: -16 })
  t.true(Math.abs(r.after.integratedLufs - -16) <= 0.1, `${r.after.integratedLufs}`)
  t.true(r.after.truePeakDb <= -1, `${r.after.truePeakDb}`)
  t.true(Math.abs(ffmpegLoudness(out).integratedLufs - -16) <= 0.2, 'ffmpeg agrees')
  t.true(Math.abs(r.before.integratedLufs - ffmpegLoudness(mp3).integratedLufs) <= 0.2)
  // Peaky material that the gain pushes over the ceiling: it is limited.
  const peaky = fixture(dir, 'peaky.flac', ['-c:a', 'flac'], 'aevalsrc=0.02*sin(2*PI*220*t)+0.9*sin(2*PI*1500*t)*exp(-40*mod(t\\,0.5)):s=44100:d=8')
  const out2 = join(dir, 'norm2.flac')
  const r2 = await normalizeFile(peaky, out2, { targetLufs: -12, truePeakDb: -1.5, bitDepth: 16 })
  t.true(r2.limited)
  t.true(Math.abs(r2.after.integratedLufs - -12) <= 0.1, `${r2.after.integratedLufs}`)
  t.true(r2.after.truePeakDb <= -1.5, `${r2.after.truePeakDb}`)
  t.is((await probeFile(out2)).bitDepth, 16)
  const ff = ffmpegLoudness(out2)
  t.true(Math.abs(ff.integratedLufs - -12) <= 0.2 && ff.truePeakDb <= -1.4, `ffmpeg reads ${ff.integratedLufs} LUFS, ${ff.truePeakDb} dBTP`)
  await t.throwsAsync(normalizeFile(mp3, join(dir, 'x.wav'), { targetLufs: 5 }), { instanceOf: RangeError })
})

test('a player at another rate is resampled: a 44.1 kHz buffer plays at its pitch in a 48 kHz render', async (t) => {
  const src = fixture(dir, 's16.flac', ['-c:a', 'flac', '-sample_fmt', 's16'])
  const d = await decodeFile(src)
  const g = new Graph()
  g.chain(g.player({ channels: d.channels, sampleRate: 44100 }), g.output)
  const r = await renderOffline(g, { sampleRate: 48000, frames: 3 * 48000 })
  const want = await resample(d.channels, 44100, 48000)
  t.deepEqual(r.channels[0], want[0])
  t.deepEqual(r.channels[1], want[1])
  t.throws(() => g.player({ channels: d.channels, sampleRate: 0 }), { instanceOf: RangeError })
})

test('filePlayer streams a file at another rate: renderOffline equals decodeFile at the render rate', async (t) => {
  const src = fixture(dir, 'lame.mp3', ['-c:a', 'libmp3lame', '-b:a', '192k'])
  const g = new Graph()
  g.chain(g.filePlayer({ path: src, startFrame: 100, offsetFrames: 4800, gain: 1 }), g.output)
  const r = await renderOffline(g, { sampleRate: 48000, frames: 48000 * 3 })
  const d = await decodeFile(src, { sampleRate: 48000 })
  let worst = 0
  for (let i = 0; i < 48000 * 3 - 4800 - 100; i++) worst = Math.max(worst, Math.abs(r.channels[1][100 + i] - d.channels[1][4800 + i]))
  t.true(worst <= 1e-6, `worst difference ${worst}`)
  t.true(r.channels[0].subarray(0, 100).every((x) => x === 0))
  t.throws(() => g.filePlayer({ path: '' }), { instanceOf: TypeError })
  const bad = new Graph()
  bad.chain(bad.filePlayer({ path: join(dir, 'missing.flac') }), bad.output)
  await t.throwsAsync(renderOffline(bad, { sampleRate: 48000, frames: 10 }), { message: /filePlayer #2: .*missing\.flac: no such file/ })
})
