/** Writes planar channels to a WAV file: 16- or 24-bit PCM, or 32-bit float. */
export declare function writeWav(path: string, channels: Float32Array[], sampleRate: number, o?: {
    bitDepth?: 16 | 24 | 32;
}): void;
/** A decoded WAV file. */
export interface WavFile {
    /** Frames per second. */
    sampleRate: number;
    /** One `Float32Array` per channel, in [-1, 1] for integer formats. */
    channels: Float32Array[];
}
/** Reads a WAV file (16/24/32-bit PCM or 32-bit float) into planar `Float32Array` channels. */
export declare function readWav(path: string): WavFile;
