/**
 * ferrite-audio — a real-time audio engine for Node.js with a Rust core.
 *
 * Build a processor {@link Graph} in TypeScript, render it offline with
 * {@link renderOffline}, or play it on a device with {@link Engine}.
 *
 * @packageDocumentation
 */
// The package root: re-exports the public API from the modules under ts/.
// Anything exported here is public (and must be listed in index.mjs too);
// the helpers the modules share are not re-exported, and their TSDoc `internal`
// tag keeps them out of the emitted ts/*.d.ts (tsconfig's stripInternal; so
// never write that tag in a comment above a statement here: stripInternal
// would drop the statement from index.d.ts).
//
// Values are re-exported with `export import` (not `export { … } from`) so that
// index.js assigns them as plain data properties of `exports`, as the
// single-file facade did (tsc's `export … from` defines getters instead), in
// the same order (classes and the constant, then the functions).
import automation = require('./ts/automation')
import devices = require('./ts/devices')
import engine = require('./ts/engine')
import files = require('./ts/files')
import graph = require('./ts/graph')
import offline = require('./ts/offline')
import units = require('./ts/units')
import wav = require('./ts/wav')

export import AutomationLane = automation.AutomationLane
export import GRAPH_FORMAT_VERSION = graph.GRAPH_FORMAT_VERSION
export import Graph = graph.Graph
export import Engine = engine.Engine
export import secondsToFrames = units.secondsToFrames
export import framesToSeconds = units.framesToSeconds
export import renderOffline = offline.renderOffline
export import writeWav = wav.writeWav
export import readWav = wav.readWav
export import listDevices = devices.listDevices
export import probeFile = files.probeFile
export import decodeFile = files.decodeFile
export import resample = files.resample
export import analyzeFile = files.analyzeFile
export import renderToFile = files.renderToFile
export import normalizeFile = files.normalizeFile

export type { Curve, AutomationPoint } from './ts/automation'
export type { BiquadType, Waveform, NodeRef, EqBand, NoiseColor, ProcessorNodeOptions } from './ts/graph'
export type { MeterReading } from './ts/meters'
export type { RenderResult, RenderOptions, Spectrum } from './ts/offline'
export type { WavFile } from './ts/wav'
export type { EngineStats, EngineOpenOptions, SetParamOptions } from './ts/engine'
export type { Recording, RecordOptions, RecordResult } from './ts/recording'
export type { DeviceInfo } from './ts/devices'
export type { AudioProcessor, AudioProcessorClass, ProcessorContext, ProcessorParams, ProcessorParameterDescriptor } from './ts/processor'
export type { AudioFileInfo, FileAnalysis, AnalyzeFileOptions, DecodeFileOptions, RenderToFileOptions, NormalizeOptions } from './ts/files'
