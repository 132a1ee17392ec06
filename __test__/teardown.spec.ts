// Issue 26, item 3 (the environment half): a render or file job started by a
// worker_threads Worker is cancelled when the Worker's environment is torn
// down (worker.terminate()): its thread ends within seconds instead of
// running the render out, no temporary file stays behind, and the process
// that owned the Worker keeps working and exits by itself.
//
// Each case runs in a child process, so that the threads it lists
// (/proc/self/task/*/comm) and the CPU time it measures are the job's alone.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const INDEX = JSON.stringify(join(import.meta.dirname, '..', 'index.js'))

/** How long a cancelled job's thread may take to end; the job is sized to take ten times as long or more. */
const BOUND_S = 5

/**
 * The child's script: calibrates how long the graph takes to render, sizes
 * the job to take at least 10 × BOUND_S, starts it in a Worker, waits for
 * its thread `thread` (and, for a file, for the temporary file), terminates
 * the Worker and reports as JSON how long the thread outlived it, the CPU
 * time the process used in the second after, and a short render of its own.
 */
function script(job: 'renderOffline' | 'renderToFile', thread: string, dir: string, ext: string, proc: boolean) {
  return `
    const { Worker } = require('node:worker_threads');
    const { readFileSync, readdirSync } = require('node:fs');
    const { Graph, renderOffline } = require(${INDEX});
    const threads = () => readdirSync('/proc/self/task').map((t) => { try { return readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim() } catch { return '' } });
    const count = (name) => threads().filter((n) => n === name).length;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const graphSrc = (tracks) => { const g = new Graph();
      for (let t = 0; t < tracks; t++) {
        const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking', frequency: 100 * (b + 1) + t, q: 1, gainDb: 2 }));
        g.chain(g.oscillator({ frequency: 55 + t, amplitude: 0.001 }), g.eq({ bands }), g.output);
      }
      return g };
    (async () => {
      // Calibration: 64 tracks for 2 s of audio, best of 3.
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = process.hrtime.bigint();
        await renderOffline(graphSrc(64), { sampleRate: 48000, frames: 96000, channels: 1 });
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const perTrackSecond = best / (64 * 2);
      const seconds = 300;
      const tracks = Math.min(4096, Math.max(16, Math.ceil((20 * ${BOUND_S}) / (perTrackSecond * seconds))));
      const expected = perTrackSecond * tracks * seconds;
      // The calibration's threads end just after their promises settle.
      for (const t0 = Date.now(); count(${JSON.stringify(thread)}) !== 0 && Date.now() - t0 < 10000; ) await sleep(10);
      if (count(${JSON.stringify(thread)}) !== 0) throw new Error('a ${thread} thread before the job');
      const w = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        const { Graph, ${job} } = require(workerData.index);
        const g = new Graph();
        for (let t = 0; t < workerData.tracks; t++) {
          const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking', frequency: 100 * (b + 1) + t, q: 1, gainDb: 2 }));
          g.chain(g.oscillator({ frequency: 55 + t, amplitude: 0.001 }), g.eq({ bands }), g.output);
        }
        // A processor: the render waits for its worker, which the teardown takes away.
        if (workerData.proc) g.chain(g.oscillator({ frequency: 300 }), g.processor({ module: workerData.module }), g.output);
        const o = { sampleRate: 48000, frames: 48000 * workerData.seconds, channels: 1 };
        if (workerData.file) o.path = workerData.path;
        ${job}(g, o).then(() => parentPort.postMessage('finished'), (e) => parentPort.postMessage('failed: ' + e.message));
        parentPort.postMessage('started');
      \`, { eval: true, workerData: { index: ${INDEX}, proc: ${proc}, module: ${JSON.stringify(join(import.meta.dirname, 'fixtures', 'tremolo.mjs'))}, tracks, seconds, file: ${job === 'renderToFile'}, path: ${JSON.stringify(join(dir, 'out.' + ext))} } });
      const messages = [];
      w.on('message', (m) => messages.push(m));
      w.on('error', (e) => messages.push('error: ' + e.message));
      while (!messages.includes('started')) await sleep(10);
      // The job's thread runs, and a file job has opened its temporary file.
      const t0 = Date.now();
      while (count(${JSON.stringify(thread)}) === 0 || (${job === 'renderToFile'} && readdirSync(${JSON.stringify(dir)}).length === 0)) {
        if (Date.now() - t0 > 30000) throw new Error('the job did not start: ' + threads().join(',') + ' ' + messages.join(','));
        await sleep(10);
      }
      await sleep(300);
      const during = readdirSync(${JSON.stringify(dir)});
      await w.terminate();
      const tEnd = Date.now();
      while (count(${JSON.stringify(thread)}) > 0 || count('ferrite-writer') > 0) {
        if (Date.now() - tEnd > 60000) break;
        await sleep(20);
      }
      const outlived = (Date.now() - tEnd) / 1000;
      const cpu0 = process.cpuUsage();
      await sleep(1000);
      const cpu = process.cpuUsage(cpu0);
      const after = readdirSync(${JSON.stringify(dir)});
      const left = threads().filter((n) => ['ferrite-render', 'ferrite-file', 'ferrite-writer', 'ferrite-reader'].includes(n));
      // The process still renders.
      const r = await renderOffline(graphSrc(1), { sampleRate: 48000, frames: 4800, channels: 1 });
      console.log(JSON.stringify({ expected, tracks, outlived, cpuAfterS: (cpu.user + cpu.system) / 1e6, during, after,
        messages, left, rendered: r.channels[0].length }));
    })().catch((e) => { console.error(e); process.exitCode = 1 });
  `
}

async function runChild(src: string) {
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, out: out.trim(), err }
}

for (const [job, thread, ext, proc] of [
  ['renderOffline', 'ferrite-render', 'wav', false],
  ['renderToFile', 'ferrite-file', 'wav', false],
  ['renderToFile', 'ferrite-file', 'flac', false],
  ['renderOffline', 'ferrite-render', 'wav', true],
] as const) {
  test(`a Worker terminated during ${job}${job === 'renderToFile' ? ` (.${ext})` : ''}${proc ? ' of a graph with a processor' : ''} cancels it: its thread ends within ${BOUND_S} s, no file is left, the process renders on and exits`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-teardown-'))
    try {
      const { code, out, err } = await runChild(script(job, thread, dir, ext, proc))
      t.log(out, err.slice(0, 500))
      t.is(code, 0, err)
      const r = JSON.parse(out)
      t.true(r.expected >= 10 * BOUND_S, `the job was sized to take ${r.expected} s`)
      t.deepEqual(r.messages, ['started'], 'the Worker never saw its job end')
      t.true(r.outlived < BOUND_S, `the ${thread} thread outlived the Worker by ${r.outlived} s (the job would take ${r.expected.toFixed(1)} s)`)
      // The render ran on one core; after the cancel the process idles.
      t.true(r.cpuAfterS < 0.5, `${r.cpuAfterS} s of CPU in the second after`)
      t.deepEqual(r.left, [], "no job thread (render, file, writer, reader) is left")
      t.is(r.rendered, 4800)
      if (job === 'renderToFile') {
        t.is(r.during.length, 1, 'the temporary file existed while the render ran')
        t.regex(r.during[0], /^\.out\..*\.part$/)
      }
      t.deepEqual(readdirSync(dir), [], 'neither the temporary file nor the target is left')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
