//! Files for ferrite-audio: probing and decoding every common format
//! (symphonia), band-limited resampling (rubato), and the pieces that move
//! file data between disk and the render without the audio thread touching
//! a file ([`stream`]: the reader thread and the `filePlayer` processor).
//!
//! Threads: everything here runs on the control side (a render thread, a
//! reader or writer thread, a napi worker), never on the audio thread,
//! except where an item's `# Realtime` section says otherwise.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod decode;
pub mod error;
mod mp4;
pub mod probe;
pub mod resample;
pub mod ring_sink;
pub mod stream;
pub mod writer;
pub mod writer_thread;

pub use decode::{convert_channels, decode_file, DecodeOptions, Decoded, Decoder, ResampledReader};
pub use error::{MediaError, MediaErrorKind, Result};
pub use probe::{probe_file, AudioFileInfo};
pub use resample::{resample, StreamResampler};
pub use ring_sink::{RingFlags, RingSink};
pub use stream::{disk_underruns, take_stream_errors, FilePlayer, FilePlayerOptions, StreamStatus, FILE_PLAYER_PARAMS};
pub use writer::{AudioFileWriter, BitDepth, FileFormat};
pub use writer_thread::FileSink;
