// ESM entry: re-exports the CommonJS build of index.ts by name.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./index.js')

export const {
  Graph,
  AutomationLane,
  renderOffline,
  Engine,
  listDevices,
  secondsToFrames,
  framesToSeconds,
  writeWav,
  readWav,
  GRAPH_FORMAT_VERSION,
  probeFile,
  decodeFile,
  resample,
  analyzeFile,
  renderToFile,
  normalizeFile,
} = cjs
export default cjs
