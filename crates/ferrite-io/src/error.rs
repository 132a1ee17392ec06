//! The control-side error type: a kind plus a message naming what went wrong.

use std::borrow::Cow;
use std::fmt;

/// What kind of failure an [`IoError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoErrorKind {
    /// The named device does not exist (the message lists the devices that do).
    NotFound,
    /// The device exists but cannot run the requested configuration
    /// (sample rate, channel count or sample format).
    Unsupported,
    /// The device was there but has gone away, or the host refused it.
    DeviceUnavailable,
    /// A running stream failed; the stream should be closed and reopened.
    Stream,
    /// The configuration itself is invalid (zero sample rate, zero channels...).
    InvalidConfig,
    /// Anything else: the backend failed in a way we cannot classify
    /// (a thread could not be started, the host returned an unknown error).
    Backend,
}

impl fmt::Display for IoErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "device not found",
            Self::Unsupported => "unsupported configuration",
            Self::DeviceUnavailable => "device unavailable",
            Self::Stream => "stream error",
            Self::InvalidConfig => "invalid configuration",
            Self::Backend => "backend error",
        })
    }
}

/// An error from opening, enumerating or running an audio stream.
///
/// Built on the control side, or — for stream errors reported by the backend
/// while running — built without allocating (the message is static and the
/// backend's own error is kept as the source) and delivered through
/// [`Stream::errors`](crate::Stream::errors).
#[derive(Debug)]
pub struct IoError {
    kind: IoErrorKind,
    message: Cow<'static, str>,
    source: Option<cpal::Error>,
}

impl IoError {
    /// An error of `kind` with a human-readable `message`.
    pub fn new(kind: IoErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    /// An error of `kind` with a static message and the backend error that caused it.
    /// Does not allocate, so it may be built in a backend's error callback.
    pub(crate) fn from_backend(kind: IoErrorKind, message: &'static str, source: cpal::Error) -> Self {
        Self { kind, message: Cow::Borrowed(message), source: Some(source) }
    }

    /// The kind of failure.
    pub fn kind(&self) -> IoErrorKind {
        self.kind
    }

    /// The message, without the backend's error appended.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {}", self.message, source),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Maps a cpal error kind to ours.
pub(crate) fn kind_from_cpal(kind: cpal::ErrorKind) -> IoErrorKind {
    match kind {
        cpal::ErrorKind::DeviceNotAvailable
        | cpal::ErrorKind::HostUnavailable
        | cpal::ErrorKind::DeviceBusy
        | cpal::ErrorKind::PermissionDenied => IoErrorKind::DeviceUnavailable,
        cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::UnsupportedOperation => IoErrorKind::Unsupported,
        cpal::ErrorKind::InvalidInput => IoErrorKind::InvalidConfig,
        cpal::ErrorKind::StreamInvalidated | cpal::ErrorKind::Xrun => IoErrorKind::Stream,
        _ => IoErrorKind::Backend,
    }
}

/// Wraps a cpal error met on the control side, with context.
pub(crate) fn from_cpal(context: &str, err: cpal::Error) -> IoError {
    IoError { kind: kind_from_cpal(err.kind()), message: Cow::Owned(context.to_owned()), source: Some(err) }
}
