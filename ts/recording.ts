// Recording: a running capture of the engine's output, its input or a node's
// output to a WAV or FLAC file (the audio thread copies, a writer thread writes).
import type * as native from '../load-binding'
import { callNativeAsync } from './errors'
import type { NodeRef } from './graph'

/** Options of {@link Engine.record}. */
export interface RecordOptions {
  /** Destination, `.wav` or `.flac`; written under a temporary name and renamed when complete. */
  path: string
  /** What to capture: a node's output, the master `'output'` (default) or the device `'input'`. */
  source?: NodeRef | 'output' | 'input'
  /** 16 or 24 (integer PCM) or 32 (float, WAV only). Default 24. */
  bitDepth?: 16 | 24 | 32
  /** First transport frame recorded (punch in). Default: the next block. */
  startFrame?: number
  /** Transport frame where recording ends, exclusive (punch out). Default: at {@link Recording.stop}. */
  endFrame?: number
}

/** What {@link Recording.stop} resolves with. */
export interface RecordResult {
  /** Frames in the file. */
  frames: number
  /** Frames lost because the writer fell more than the ring's length (4 s) behind. */
  droppedFrames: number
}

/**
 * A running recording, from {@link Engine.record}. It ends at its `endFrame`,
 * at `stop()`, when a new graph no longer has its source node, or when
 * writing fails (reported through `Engine.onError` and by `stop()` rejecting).
 */
export class Recording {
  #native: native.NativeRecording
  #stopped: Promise<RecordResult> | undefined

  /** @internal */
  constructor(n: native.NativeRecording) {
    this.#native = n
  }

  /** The destination path. */
  get path(): string {
    return this.#native.path
  }

  /** Ends the recording (if it has not ended) and resolves once every frame is on disk. Calling it again returns the same promise. */
  stop(): Promise<RecordResult> {
    this.#stopped ??= callNativeAsync(() => this.#native.stop()).then((r) => ({ frames: r.frames, droppedFrames: r.droppedFrames }))
    return this.#stopped
  }
}
