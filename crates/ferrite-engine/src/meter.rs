//! Meter readings as the engine reports them (the DSP lives in `ferrite_dsp::meter`).

use ferrite_dsp::meter::Meter;
pub use ferrite_dsp::meter::MeterReading;
use ferrite_dsp::Processor;

/// The reading of a meter node's processor: over its whole life (`total`), or
/// over the interval since the previous interval reading (which restarts it).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn reading_of(p: &mut dyn Processor, total: bool) -> Option<MeterReading> {
    let m = p.as_any_mut().downcast_mut::<Meter>()?;
    Some(if total { m.total_reading() } else { m.take_interval_reading() })
}

/// Restarts a meter processor's interval without reading it.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn restart_interval(p: &mut dyn Processor) {
    if let Some(m) = p.as_any_mut().downcast_mut::<Meter>() {
        m.restart_interval();
    }
}

/// Starts a meter processor's integrated loudness and loudness range anew.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn reset_integration(p: &mut dyn Processor) -> bool {
    match p.as_any_mut().downcast_mut::<Meter>() {
        Some(m) => {
            m.reset_integration();
            true
        }
        None => false,
    }
}
