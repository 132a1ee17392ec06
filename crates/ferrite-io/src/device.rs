//! cpal devices: enumeration, lookup by id or name, opening a stream.

use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, FromSample, SampleFormat, SizedSample, SupportedStreamConfigRange};
use crossbeam_channel::{Receiver, Sender};

use crate::config::{validate, DEFAULT_BUFFER_SIZE};
use crate::error::{from_cpal, kind_from_cpal};
use crate::input::{input_ring, InputFeed, InputPush};
use crate::runner::Runner;
use crate::stream::{Backend, Stream};
use crate::watchdog::Watchdog;
use crate::{AudioCallback, IoError, IoErrorKind, Stats, StreamConfig};

/// The name that selects the host's default device.
pub const DEFAULT_DEVICE: &str = "default";

/// Sample rates reported by [`list_devices`] when a device supports a range.
const COMMON_RATES: [u32; 11] =
    [8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000];

/// A running stream without a callback for this long is reported as lost.
const STALL_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Time allowed before the first callback.
const STARTUP_TIMEOUT: Duration = Duration::from_millis(3_000);

/// Highest range end reported as a rate of its own.
const MAX_LISTED_RATE: u32 = 768_000;

/// Output sample formats we convert to, best first.
const OUTPUT_FORMATS: [SampleFormat; 4] = [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16, SampleFormat::U16];

/// One device cpal can see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id, `host:device` (for example `alsa:null`, `alsa:default`).
    /// Pass it (or `name`, or the part after `host:`) as `StreamConfig::device`.
    pub id: String,
    /// Human-readable name (the first line of the host's description).
    pub name: String,
    /// Whether this is the host's default output device.
    pub is_default: bool,
    /// Most output channels any configuration offers; 0 for input-only devices.
    pub output_channels: u16,
    /// Most input channels any configuration offers; 0 for output-only devices.
    pub input_channels: u16,
    /// Supported sample rates (common rates inside each supported range, plus
    /// the ranges' ends), ascending.
    pub sample_rates: Vec<u32>,
}

/// Lists the devices of the default host that offer at least one
/// configuration, the default device first. Never fails: a host that cannot
/// enumerate gives an empty list. Opens each device briefly to read its
/// capabilities, so it can take a moment; call it off the audio and JS threads.
///
/// ```no_run
/// for device in ferrite_io::list_devices() {
///     println!("{} ({}): {} out, {} in, {:?} Hz", device.id, device.name,
///              device.output_channels, device.input_channels, device.sample_rates);
/// }
/// ```
pub fn list_devices() -> Vec<DeviceInfo> {
    let host = cpal::default_host();
    let default_device = host.default_output_device();
    let default_id = default_device.as_ref().and_then(|d| d.id().ok());
    let mut infos: Vec<DeviceInfo> = host
        .devices()
        .map(|devices| devices.filter_map(|device| describe(&device, default_id.as_ref())).collect())
        .unwrap_or_default();
    // ALSA's `default` PCM is not always among the hints: add it when it works.
    if !infos.iter().any(|info| info.is_default) {
        if let Some(info) = default_device.and_then(|d| describe(&d, default_id.as_ref())) {
            infos.push(info);
        }
    }
    // The default device first, then in the host's order.
    infos.sort_by_key(|info| !info.is_default);
    infos
}

/// A device's capabilities; `None` for one that offers no configuration at
/// all (ALSA lists plugins that cannot be opened on their own).
fn describe(device: &cpal::Device, default_id: Option<&cpal::DeviceId>) -> Option<DeviceInfo> {
    let id = device.id().ok()?;
    let mut rates = Vec::new();
    let output_channels = max_channels(device.supported_output_configs().ok(), &mut rates);
    let input_channels = max_channels(device.supported_input_configs().ok(), &mut rates);
    if output_channels == 0 && input_channels == 0 {
        return None;
    }
    rates.sort_unstable();
    rates.dedup();
    Some(DeviceInfo {
        is_default: default_id == Some(&id),
        id: id.to_string(),
        name: device_name(device),
        output_channels,
        input_channels,
        sample_rates: rates,
    })
}

fn device_name(device: &cpal::Device) -> String {
    match device.description() {
        Ok(desc) => desc.name().lines().next().unwrap_or_default().to_owned(),
        Err(_) => device.to_string(),
    }
}

fn max_channels(configs: Option<impl Iterator<Item = SupportedStreamConfigRange>>, rates: &mut Vec<u32>) -> u16 {
    let mut most = 0;
    for range in configs.into_iter().flatten() {
        most = most.max(range.channels());
        let (low, high) = (range.min_sample_rate(), range.max_sample_rate());
        // The ends of a range are rates too, unless they are placeholders
        // (ALSA's null PCM says 1..=u32::MAX).
        let plausible = |rate: &u32| (COMMON_RATES[0]..=MAX_LISTED_RATE).contains(rate);
        rates.extend([low, high].into_iter().filter(plausible));
        rates.extend(COMMON_RATES.iter().filter(|r| (low..=high).contains(r)));
    }
    most
}

/// Which way a device is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Output,
    Input,
}

/// Finds a device by id (`alsa:null`), host-local id (`null`), name, or
/// `default`. A miss is `NotFound`, listing what exists.
fn find_device(host: &cpal::Host, wanted: Option<&str>, direction: Direction) -> Result<cpal::Device, IoError> {
    let wanted = wanted.unwrap_or(DEFAULT_DEVICE);
    if wanted.eq_ignore_ascii_case(DEFAULT_DEVICE) {
        let device = match direction {
            Direction::Output => host.default_output_device(),
            Direction::Input => host.default_input_device(),
        };
        if let Some(device) = device {
            return Ok(device);
        }
    }
    let mut devices: Vec<cpal::Device> =
        host.devices().map_err(|e| from_cpal("could not enumerate audio devices", e))?.collect();
    let matches = |device: &cpal::Device| {
        device.id().is_ok_and(|id| id.to_string() == wanted || id.id() == wanted) || device_name(device) == wanted
    };
    if let Some(position) = devices.iter().position(matches) {
        return Ok(devices.swap_remove(position));
    }
    let known: Vec<String> =
        devices.iter().filter_map(|d| d.id().ok().map(|id| format!("{id} ({})", device_name(d)))).collect();
    let what = match direction {
        Direction::Output => "output",
        Direction::Input => "input",
    };
    Err(IoError::new(
        IoErrorKind::NotFound,
        format!(
            "no audio {what} device named \"{wanted}\"; available: {}",
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ),
    ))
}

fn describe_ranges(ranges: &[SupportedStreamConfigRange]) -> String {
    let list: Vec<String> = ranges
        .iter()
        .map(|r| {
            format!("{} ch {:?} {}..={} Hz", r.channels(), r.sample_format(), r.min_sample_rate(), r.max_sample_rate())
        })
        .collect();
    list.join("; ")
}

/// The buffer size to ask for: the request when the range allows it (or the
/// range is unknown), else the device's default.
fn buffer_request(range: &SupportedStreamConfigRange, frames: u32) -> BufferSize {
    match *range.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } if !(min..=max).contains(&frames) => BufferSize::Default,
        _ => BufferSize::Fixed(frames),
    }
}

/// Opens `config.device` (the default output device when `None`) through
/// cpal and runs `callback` on the device's audio thread, with the same
/// thread setup, denormal guard and statistics as the null backend.
///
/// * Sample rate: `config.sample_rate`, else the device's default.
/// * Channels: `config.channels`, else the device's default.
/// * Buffer size: `config.buffer_size` (default 128) as a fixed size when the
///   device accepts it, else the device's default; [`Stream::buffer_size`]
///   says what was granted.
/// * Sample format: f32, i32, i16 or u16 (converted from the callback's f32
///   in scratch buffers allocated here, not in the callback).
/// * Input: when `config.input_device` is given or `config.want_input`, an
///   input stream at the same sample rate feeds the callback's `input`
///   through a lock-free ring (see [`AudioCallback`] for the layout).
///
/// Errors: `NotFound` (the message lists the devices), `Unsupported` (the
/// message lists what the device offers), `DeviceUnavailable`, `Backend`.
/// Errors while running arrive on [`Stream::errors`]; backend xruns are
/// counted in the statistics instead. A device that stops calling back
/// for a second (ALSA's jack plugin when the server dies says nothing) is
/// reported there as `DeviceUnavailable` by a watchdog thread. After an
/// error, close the stream and open a new one.
///
/// ```no_run
/// use ferrite_io::{open_device, StreamConfig};
/// let config = StreamConfig {
///     device: Some("alsa:null".into()),
///     sample_rate: Some(48_000),
///     buffer_size: Some(128),
///     ..Default::default()
/// };
/// let mut phase = 0.0_f32;
/// let stream = open_device(&config, move |out: &mut [f32], _: &[f32], frames, channels| {
///     for frame in out.chunks_exact_mut(channels) {
///         phase = (phase + 440.0 / 48_000.0).fract();
///         frame.fill((phase * std::f32::consts::TAU).sin() * 0.1);
///     }
///     let _ = frames;
/// })?;
/// println!("granted {} frames at {} Hz", stream.buffer_size(), stream.sample_rate());
/// stream.close();
/// # Ok::<(), ferrite_io::IoError>(())
/// ```
pub fn open_device<C: AudioCallback>(config: &StreamConfig, callback: C) -> Result<Stream, IoError> {
    validate(config.sample_rate, config.buffer_size, config.channels)?;
    let host = cpal::default_host();
    let device = find_device(&host, config.device.as_deref(), Direction::Output)?;
    let label = device_label(&device);
    let default = device
        .default_output_config()
        .map_err(|e| from_cpal(&format!("{label}: no default output configuration"), e))?;
    let sample_rate = config.sample_rate.unwrap_or(default.sample_rate());
    let channels = config.channels.unwrap_or(default.channels());
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| from_cpal(&format!("{label}: cannot read its configurations"), e))?
        .collect();
    let range = pick_config(&ranges, &[channels], sample_rate).ok_or_else(|| {
        IoError::new(
            IoErrorKind::Unsupported,
            format!(
                "{label} cannot play {channels} channels at {sample_rate} Hz as f32/i32/i16/u16; it offers: {}",
                describe_ranges(&ranges)
            ),
        )
    })?;
    let requested = config.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);
    let stats = Arc::new(Stats::new());
    let (error_tx, error_rx) = crossbeam_channel::bounded::<IoError>(64);

    let input = if config.input_device.is_some() || config.want_input {
        Some(open_input(&host, config.input_device.as_deref(), sample_rate, requested, &stats, &error_tx)?)
    } else {
        None
    };

    // The callback's state reaches the audio thread through a one-slot
    // channel once a stream has been built, so a refused attempt does not
    // consume the callback and the scratch buffers can be sized to what the
    // device granted.
    let (state_tx, state_rx) = crossbeam_channel::bounded::<OutputState<C>>(1);
    let paced = UNPACED_DEVICES.contains(&label.as_str());
    let output_stream = build_with_fallback(requested, &range, |buffer_size| {
        build_output(
            &device,
            cpal::StreamConfig { channels, sample_rate, buffer_size },
            range.sample_format(),
            state_rx.clone(),
            error_sender(&stats, &error_tx, "audio output stream failed"),
        )
    })
    .map_err(|e| from_cpal(&format!("{label}: could not open the output stream"), e))?;
    let granted = output_stream.buffer_size().unwrap_or(requested).max(1);
    stats.set_budget_ns(u64::from(granted) * 1_000_000_000 / u64::from(sample_rate));

    let (input_stream, feed, input_channels) = match input {
        Some((stream, consumer, input_channels)) => {
            let feed = InputFeed::new(consumer, usize::from(input_channels), granted as usize);
            (Some(stream), Some(feed), input_channels)
        }
        None => (None, None, 0),
    };
    let mut state = OutputState::new(
        Runner::new(callback, stats.clone(), sample_rate),
        usize::from(channels),
        granted as usize,
        feed,
    );
    if paced {
        state.clock = Some(Clock::new(sample_rate, granted));
    }
    state_tx
        .send(state)
        .map_err(|_| IoError::new(IoErrorKind::Backend, "the output stream dropped its callback slot"))?;

    if let Some(input) = &input_stream {
        input.play().map_err(|e| from_cpal("could not start the input stream", e))?;
    }
    output_stream.play().map_err(|e| from_cpal(&format!("{label}: could not start the output stream"), e))?;
    // Some hosts just stop calling back when the device goes away (ALSA's
    // jack plugin when the server dies): report that as an error too.
    let buffer_duration = Duration::from_nanos(u64::from(granted) * 1_000_000_000 / u64::from(sample_rate));
    let watchdog = Watchdog::spawn(
        stats.clone(),
        error_tx,
        STALL_TIMEOUT.max(buffer_duration * 8),
        STARTUP_TIMEOUT.max(buffer_duration * 8),
    );

    Ok(Stream::new(
        sample_rate,
        granted,
        channels,
        input_channels,
        stats,
        error_rx,
        Box::new(DeviceHandle { output: Some(output_stream), input: input_stream, watchdog }),
    ))
}

fn device_label(device: &cpal::Device) -> String {
    device.id().map_or_else(|_| device.to_string(), |id| id.to_string())
}

/// A supported configuration at `sample_rate` with the first of `channels`
/// that any range offers, in the best sample format we convert.
fn pick_config(
    ranges: &[SupportedStreamConfigRange],
    channels: &[u16],
    sample_rate: u32,
) -> Option<SupportedStreamConfigRange> {
    channels.iter().find_map(|&ch| {
        OUTPUT_FORMATS.iter().find_map(|&format| {
            ranges.iter().copied().find(|r| {
                r.sample_format() == format
                    && r.channels() == ch
                    && (r.min_sample_rate()..=r.max_sample_rate()).contains(&sample_rate)
            })
        })
    })
}

/// Builds with a fixed buffer of `frames` when the range allows it, and
/// with the device's default buffer when that is refused.
fn build_with_fallback(
    frames: u32,
    range: &SupportedStreamConfigRange,
    mut build: impl FnMut(BufferSize) -> Result<cpal::Stream, cpal::Error>,
) -> Result<cpal::Stream, cpal::Error> {
    match buffer_request(range, frames) {
        BufferSize::Fixed(frames) => build(BufferSize::Fixed(frames)).or_else(|_| build(BufferSize::Default)),
        BufferSize::Default => build(BufferSize::Default),
    }
}

/// The error callback: counts xruns, forwards everything else to the
/// stream's error channel without blocking (and without allocating: the
/// message is static and cpal's error is moved in).
fn error_sender(
    stats: &Arc<Stats>,
    errors: &Sender<IoError>,
    what: &'static str,
) -> impl FnMut(cpal::Error) + Send + 'static {
    let stats = stats.clone();
    let errors = errors.clone();
    move |err: cpal::Error| {
        if err.kind() == cpal::ErrorKind::Xrun {
            stats.record_backend_xrun();
            return;
        }
        let kind = match kind_from_cpal(err.kind()) {
            IoErrorKind::Backend => IoErrorKind::Stream,
            kind => kind,
        };
        // A full channel means nobody reads errors: dropping one is fine.
        let _ = errors.try_send(IoError::from_backend(kind, what, err));
    }
}

fn unsupported_format(format: SampleFormat) -> cpal::Error {
    cpal::Error::with_message(
        cpal::ErrorKind::UnsupportedConfig,
        format!("sample format {format:?} is not one we convert"),
    )
}

fn build_output<C: AudioCallback>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: SampleFormat,
    state: Receiver<OutputState<C>>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        SampleFormat::F32 => build_output_as::<f32, C>(device, config, state, on_error),
        SampleFormat::I32 => build_output_as::<i32, C>(device, config, state, on_error),
        SampleFormat::I16 => build_output_as::<i16, C>(device, config, state, on_error),
        SampleFormat::U16 => build_output_as::<u16, C>(device, config, state, on_error),
        other => Err(unsupported_format(other)),
    }
}

fn build_output_as<T, C>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    state: Receiver<OutputState<C>>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
    C: AudioCallback,
{
    let mut current: Option<OutputState<C>> = None;
    device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            if current.is_none() {
                // Lock-free try_recv on a bounded channel; arrives before play().
                current = state.try_recv().ok();
            }
            if let Some(current) = &mut current {
                current.render(data);
                let frames = data.len() / current.channels;
                if let Some(clock) = &mut current.clock {
                    clock.wait(frames);
                }
            }
        },
        on_error,
        None,
    )
}

/// Everything the output callback owns, allocated before the stream starts.
struct OutputState<C> {
    runner: Runner<C>,
    channels: usize,
    max_frames: usize,
    output: Vec<f32>,
    input: Vec<f32>,
    feed: Option<InputFeed>,
    /// For a device that never blocks: the clock it is paced by.
    clock: Option<Clock>,
}

/// Devices whose writes never block, so that their callbacks would run as
/// fast as the thread can go (ALSA's null PCM: a transport at 100× real
/// time and a core busy): their output callbacks are paced by [`Clock`].
const UNPACED_DEVICES: &[&str] = &["alsa:null"];

/// Paces the callbacks of a device that never blocks: after a callback, it
/// sleeps until the wall clock reaches the audio produced so far, less one
/// buffer — what a real device's blocking write would have waited for — so
/// the transport runs at real time and the thread idles between buffers.
/// Runs on that device's callback thread, where the sleep stands in for the
/// device's own wait; a real device never gets one.
struct Clock {
    start: Option<std::time::Instant>,
    frames: u64,
    rate: u64,
    ahead: u64,
}

impl Clock {
    fn new(sample_rate: u32, buffer: u32) -> Self {
        Self { start: None, frames: 0, rate: u64::from(sample_rate.max(1)), ahead: u64::from(buffer) }
    }

    /// Counts `frames` produced and sleeps while more than one buffer ahead.
    ///
    /// # Realtime
    /// No allocation, lock or panic; one sleep system call when ahead.
    fn wait(&mut self, frames: usize) {
        let start = *self.start.get_or_insert_with(std::time::Instant::now);
        self.frames += frames as u64;
        let due =
            Duration::from_nanos(self.frames.saturating_sub(self.ahead).saturating_mul(1_000_000_000) / self.rate);
        let now = start.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        } else if now > due + Duration::from_millis(250) {
            // Far behind (the thread was stopped): start counting again
            // rather than rushing to catch up.
            self.start = Some(std::time::Instant::now());
            self.frames = 0;
        }
    }
}

impl<C: AudioCallback> OutputState<C> {
    fn new(runner: Runner<C>, channels: usize, max_frames: usize, feed: Option<InputFeed>) -> Self {
        let channels = channels.max(1);
        let max_frames = max_frames.max(1);
        Self {
            runner,
            channels,
            max_frames,
            output: vec![0.0; max_frames * channels],
            input: vec![0.0; max_frames * channels],
            feed,
            clock: None,
        }
    }

    /// Renders one device buffer, in blocks of at most `max_frames`, and
    /// converts to the device's sample type.
    ///
    /// # Realtime
    ///
    /// No allocation, lock or panic.
    fn render<T: FromSample<f32>>(&mut self, data: &mut [T]) {
        let Self { runner, channels, max_frames, output, input, feed, .. } = self;
        let channels = *channels;
        let block = *max_frames * channels;
        // Over-budget callbacks are counted in the statistics by the runner.
        runner.run(data.len() / channels, |callback| {
            for chunk in data.chunks_mut(block) {
                let frames = chunk.len() / channels;
                if frames == 0 {
                    continue;
                }
                let n = frames * channels;
                let (Some(out), Some(inp)) = (output.get_mut(..n), input.get_mut(..n)) else {
                    return;
                };
                if let Some(feed) = feed.as_mut() {
                    feed.read_into(inp, frames, channels);
                }
                callback.render(out, inp, frames, channels);
                for (dst, &src) in chunk.iter_mut().zip(out.iter()) {
                    *dst = T::from_sample_(src);
                }
            }
        });
    }
}

/// Opens the input side: a stream whose callback pushes into a ring.
/// Returns the stream (not yet playing), the ring's consumer and the
/// captured channel count.
fn open_input(
    host: &cpal::Host,
    wanted: Option<&str>,
    sample_rate: u32,
    requested: u32,
    stats: &Arc<Stats>,
    errors: &Sender<IoError>,
) -> Result<(cpal::Stream, rtrb::Consumer<f32>, u16), IoError> {
    let device = find_device(host, wanted, Direction::Input)?;
    let label = device_label(&device);
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|e| from_cpal(&format!("{label}: cannot read its input configurations"), e))?
        .collect();
    let preferred = device.default_input_config().map(|c| c.channels()).unwrap_or(2);
    let mut channel_choices = vec![preferred, 2, 1];
    channel_choices.extend(ranges.iter().map(|r| r.channels()));
    let range = pick_config(&ranges, &channel_choices, sample_rate).ok_or_else(|| {
        IoError::new(
            IoErrorKind::Unsupported,
            format!(
                "{label} cannot capture at {sample_rate} Hz as f32/i32/i16/u16; it offers: {}",
                describe_ranges(&ranges)
            ),
        )
    })?;
    let channels = range.channels();
    let mut consumer_slot = None;
    let stream = build_with_fallback(requested, &range, |buffer_size| {
        let (producer, consumer) = input_ring(usize::from(channels), requested as usize);
        consumer_slot = Some(consumer);
        build_input(
            &device,
            cpal::StreamConfig { channels, sample_rate, buffer_size },
            range.sample_format(),
            InputPush::new(producer, usize::from(channels)),
            error_sender(stats, errors, "audio input stream failed"),
        )
    })
    .map_err(|e| from_cpal(&format!("{label}: could not open the input stream"), e))?;
    let consumer = consumer_slot.ok_or_else(|| IoError::new(IoErrorKind::Backend, "input ring was not created"))?;
    Ok((stream, consumer, channels))
}

fn build_input(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: SampleFormat,
    push: InputPush,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        SampleFormat::F32 => build_input_as::<f32>(device, config, push, on_error),
        SampleFormat::I32 => build_input_as::<i32>(device, config, push, on_error),
        SampleFormat::I16 => build_input_as::<i16>(device, config, push, on_error),
        SampleFormat::U16 => build_input_as::<u16>(device, config, push, on_error),
        other => Err(unsupported_format(other)),
    }
}

fn build_input_as<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut push: InputPush,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let mut promoted = false;
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            if !promoted {
                promoted = true;
                // Best effort, as for the output thread; not reported.
                let _ = crate::priority::promote_current_thread();
            }
            push.push(data);
        },
        on_error,
        None,
    )
}

/// A device stream's cpal streams (output, then the optional input) and
/// its watchdog.
struct DeviceHandle {
    output: Option<cpal::Stream>,
    input: Option<cpal::Stream>,
    watchdog: Option<crate::watchdog::Watchdog>,
}

impl Backend for DeviceHandle {
    fn stop(&mut self) {
        // The watchdog first, so that stopping is not reported as a stall.
        drop(self.watchdog.take());
        // Output before input: it consumes the input's ring.
        drop(self.output.take());
        drop(self.input.take());
    }
}
