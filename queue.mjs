// `ferrite-audio/queue` (ESM): re-exports the CommonJS build of ts/queue.ts by name.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./queue.js')

export const { startWorker, enqueue, reviveNumbers, DEFAULT_QUEUE, DEFAULT_LOCK_DURATION, DEFAULT_STALLED_INTERVAL, DEFAULT_ATTEMPTS } = cjs
export default cjs
