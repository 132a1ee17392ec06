//! Meter readings as the engine reports them.

use ferrite_dsp::Processor;

/// Placeholder until the meter processor lands.
#[derive(Debug, Clone, Copy)]
pub struct MeterReading {
    /// dB
    pub peak_db: f64,
    /// dB
    pub rms_db: f64,
    /// dB
    pub true_peak_db: f64,
    /// LUFS
    pub momentary_lufs: f64,
    /// LUFS
    pub short_term_lufs: f64,
    /// LUFS
    pub integrated_lufs: f64,
    /// LU
    pub loudness_range_lu: f64,
}

/// Reading of a meter processor.
pub fn reading_of(_p: &mut dyn Processor, _total: bool) -> Option<MeterReading> {
    None
}

/// Starts a meter processor's integrated loudness and loudness range anew.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn reset_integration(_p: &mut dyn Processor) -> bool {
    false
}
