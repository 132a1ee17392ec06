import type { Graph } from './graph';
import { type MeterReading } from './meters';
/** What a file holds, from its headers. */
export interface AudioFileInfo {
    /** The path as given. */
    path: string;
    /** Container: `'wav' | 'aiff' | 'flac' | 'mp3' | 'ogg' | 'mp4' | 'caf'` (`'adts'` for raw AAC). */
    format: string;
    /** Codec: `'pcm' | 'flac' | 'mp3' | 'vorbis' | 'aac' | 'alac' | ...`. */
    codec: string;
    /** Frames per second. */
    sampleRate: number;
    /** Channel count. */
    channels: number;
    /** Exact for PCM and FLAC; for lossy codecs the decoded count with the encoder's delay and padding removed. */
    frames: number;
    /** Bits per sample, where the codec has one (PCM, FLAC, ALAC). */
    bitDepth?: number;
}
/** A file's meter reading over its whole length (see {@link analyzeFile}). */
export interface FileAnalysis extends MeterReading {
    /** What the file holds. */
    info: AudioFileInfo;
}
/** Options of {@link decodeFile}. */
export interface DecodeFileOptions {
    /** Resample to this rate (band-limited; default: the file's rate). */
    sampleRate?: number;
    /** Convert to this many channels (default: the file's). A mono file feeds every channel; to mono, the mean; 5.1 to stereo by ITU-R BS.775. */
    channels?: number;
    /** First frame to return, at the output rate. */
    startFrame?: number;
    /** Frames to return at most, at the output rate (default: to the end). */
    frames?: number;
}
/**
 * Reads a file's headers: container, codec, rate, channels, length.
 * Any common format: WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC and ALAC in MP4/M4A, CAF.
 *
 * ```ts
 * const info = await probeFile('take.flac') // { format: 'flac', codec: 'flac', sampleRate: 44100, channels: 2, frames: ..., bitDepth: 24 }
 * ```
 */
export declare function probeFile(path: string): Promise<AudioFileInfo>;
/**
 * Decodes a file (or a slice of it) into planar `Float32Array` channels,
 * converted to the channels and resampled to the rate asked for.
 *
 * ```ts
 * const { sampleRate, channels } = await decodeFile('song.mp3', { sampleRate: 48000 })
 * ```
 */
export declare function decodeFile(path: string, o?: DecodeFileOptions): Promise<{
    sampleRate: number;
    channels: Float32Array[];
    info: AudioFileInfo;
}>;
/**
 * Resamples planar channels from `from` to `to` Hz, band-limited (a 997 Hz
 * tone from 44.1 to 48 kHz keeps its level within 0.01 dB with THD+N below
 * -120 dB; content above the new Nyquist frequency is removed, not folded).
 * Output frame `k` is the input at time `k / to`; `n` frames become `ceil(n·to/from)`.
 */
export declare function resample(channels: Float32Array[], from: number, to: number): Promise<Float32Array[]>;
/** Options of {@link analyzeFile}. */
export interface AnalyzeFileOptions {
    /**
     * Threads that measure (1 to 64); default every core. A file of at least a
     * minute is cut in time into segments of at least 30 s, measured at the
     * same time and joined: peaks and true peak are those of one meter bit for
     * bit, loudness and RMS within 1e-9 dB (AAC within 0.001: its decoder's
     * noise substitution draws other noise when decoding starts at a cut).
     * Shorter files, and `threads: 1`, decode on one thread and measure on
     * another.
     */
    threads?: number;
}
/**
 * Measures a file as a `meter` node would, streaming it in constant memory:
 * peaks, RMS and true peak over the whole file, integrated loudness and
 * loudness range (EBU R128), momentary and short-term loudness at its end.
 *
 * ```ts
 * const a = await analyzeFile('episode.mp3')
 * console.log(a.integratedLufs, a.truePeakDb, a.info.codec)
 * ```
 */
export declare function analyzeFile(path: string, options?: AnalyzeFileOptions): Promise<FileAnalysis>;
/** Options of {@link renderToFile}. */
export interface RenderToFileOptions {
    /** The file to write; the format comes from the extension: `.wav` or `.flac`. */
    path: string;
    /** Frames per second. */
    sampleRate: number;
    /** Frames to render. */
    frames: number;
    /** Default 2. */
    channels?: number;
    /** 16 or 24-bit PCM, or 32 = float (WAV only); default 24. */
    bitDepth?: 16 | 24 | 32;
    /** Fed to `graph.input`: a buffer (1 channel or `channels`), or a file path streamed and resampled to `sampleRate`. */
    input?: Float32Array[] | string;
    /** Default 128; does not change the result. */
    blockSize?: number;
    /** Threads that render (1 to 64); default every core. Does not change the result (as `renderOffline`'s `threads`). */
    threads?: number;
    /** Called as the render goes (about 10 times a second, and at the end). */
    onProgress?: (framesDone: number, frames: number) => void;
    /** Aborting rejects the render and removes the partial file. */
    signal?: AbortSignal;
    /** Most bytes the compiled graph may hold: default 2 GiB (see `renderOffline`'s `memoryBudget`). */
    memoryBudget?: number;
}
/**
 * Renders `graph` offline straight into a WAV or FLAC file, in constant memory
 * (a writer thread encodes chunk by chunk). The file is written under a
 * temporary name beside `path` and renamed when complete: a failed or aborted
 * render leaves nothing under `path`.
 *
 * ```ts
 * await renderToFile(g, { path: 'mix.flac', sampleRate: 48000, frames: 48000 * 1800, onProgress: (d, n) => console.log(d / n) })
 * ```
 */
export declare function renderToFile(graph: Graph, o: RenderToFileOptions): Promise<{
    frames: number;
    latencyFrames: number;
    meters: Record<string, MeterReading>;
}>;
/** Options of {@link normalizeFile}. */
export interface NormalizeOptions {
    /** Integrated loudness to reach, LUFS (the result lands within 0.1 LU). */
    targetLufs: number;
    /** True-peak ceiling, dBTP, never exceeded; default -1. */
    truePeakDb?: number;
    /** Output sample format: 16, 24 (default) or 32 (float, WAV only). */
    bitDepth?: 16 | 24 | 32;
    /** Output rate (default: the input's), resampled band-limited. */
    sampleRate?: number;
}
/**
 * Normalises a file's integrated loudness (EBU R128) to `targetLufs` under a
 * true-peak ceiling, as ffmpeg's loudnorm filter does, exactly: measure, apply
 * the gain, true-peak limit where the gain would cross the ceiling, measure
 * again and correct, write (temporary name, then rename) and measure what was
 * written.
 *
 * ```ts
 * const { before, after, gainDb, limited } = await normalizeFile('episode.mp3', 'episode.wav', { targetLufs: -16 })
 * ```
 */
export declare function normalizeFile(input: string, output: string, o: NormalizeOptions): Promise<{
    before: FileAnalysis;
    after: FileAnalysis;
    gainDb: number;
    limited: boolean;
}>;
