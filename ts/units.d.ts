/** Frames in `seconds` at `sampleRate`, rounded to the nearest frame. */
export declare function secondsToFrames(seconds: number, sampleRate: number): number;
/** Seconds spanned by `frames` at `sampleRate`. */
export declare function framesToSeconds(frames: number, sampleRate: number): number;
