//! The EBU Tech 3341 (loudness metering, "EBU Mode") minimum-requirement
//! cases and the EBU Tech 3342 (loudness range) cases that are defined as
//! synthetic signals, generated here from the documents' descriptions.
//!
//! These run the meter without its true-peak stage (which they do not
//! check), to stay fast in unoptimized test builds.
//!
//! Every tone is a 1 kHz sine whose level is given in dBFS (peak), written
//! identically into each channel named by the case. Not covered, because
//! they need the EBU's programme material: Tech 3341 cases 7 and 8 and Tech
//! 3342 cases 5 and 6. The Tech 3341 cases about maximum momentary /
//! short-term readings of tone bursts and true peak test files (cases 10, 11,
//! 13 and later) are not generated here either; true peak has its own tests
//! in `true_peak.rs`.

use super::test_support::{loudness_meter as meter, run, tone_segments};

/// Runs a stereo tone sequence and returns the meter's total reading.
fn stereo_reading(fs: f64, segments: &[(f64, f64)]) -> super::MeterReading {
    let x = tone_segments(1000.0, fs, segments);
    let mut m = meter(fs, 2);
    run(&mut m, &[x.clone(), x], 1024, &mut 0);
    m.total_reading()
}

fn assert_near(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} ± {tol}");
}

#[test]
fn tech3341_cases_1_and_2_constant_tones() {
    // Case 1: -23 dBFS, 20 s: M, S and I read -23.0 ± 0.1.
    // Case 2: -33 dBFS, 20 s: -33.0 ± 0.1.
    for (fs, level) in [(48000.0, -23.0), (48000.0, -33.0), (44100.0, -23.0)] {
        let r = stereo_reading(fs, &[(level, 20.0)]);
        assert_near("momentary", r.momentary_lufs, level, 0.1);
        assert_near("short-term", r.short_term_lufs, level, 0.1);
        assert_near("integrated", r.integrated_lufs, level, 0.1);
    }
}

#[test]
fn tech3341_case_3_relative_gate() {
    // -36 dBFS 10 s, -23 dBFS 60 s, -36 dBFS 10 s: I = -23.0 ± 0.1.
    let r = stereo_reading(48000.0, &[(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)]);
    assert_near("integrated", r.integrated_lufs, -23.0, 0.1);
}

#[test]
fn tech3341_case_4_absolute_and_relative_gates() {
    // -72, -36, -23, -36, -72 dBFS for 10, 10, 60, 10, 10 s: I = -23.0 ± 0.1.
    let r = stereo_reading(48000.0, &[(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)]);
    assert_near("integrated", r.integrated_lufs, -23.0, 0.1);
}

#[test]
fn tech3341_case_5_levels_above_and_below() {
    // -26 dBFS 20 s, -20 dBFS 20.1 s, -26 dBFS 20 s: I = -23.0 ± 0.1.
    let r = stereo_reading(48000.0, &[(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)]);
    assert_near("integrated", r.integrated_lufs, -23.0, 0.1);
}

#[test]
fn tech3341_case_6_five_channels() {
    // 5.0: L and R at -28 dBFS, C at -24, Ls and Rs at -30, 20 s: I = -23.0 ± 0.1.
    // Run both as 5.0 (L R C Ls Rs) and as 5.1 with a silent LFE (L R C LFE Ls Rs).
    let fs = 48000.0;
    let tone = |db: f64| tone_segments(1000.0, fs, &[(db, 20.0)]);
    let (lr, c, s) = (tone(-28.0), tone(-24.0), tone(-30.0));
    let five = vec![lr.clone(), lr.clone(), c.clone(), s.clone(), s.clone()];
    let six = vec![lr.clone(), lr, c, vec![0.0; s.len()], s.clone(), s];
    for sig in [five, six] {
        let mut m = meter(fs, sig.len());
        run(&mut m, &sig, 512, &mut 0);
        assert_near("integrated", m.total_reading().integrated_lufs, -23.0, 0.1);
    }
}

/// Feeds `segments` in 100 ms pieces and returns the reading after each.
fn readings_every_100ms(fs: f64, segments: &[(f64, f64)]) -> Vec<super::MeterReading> {
    let x = tone_segments(1000.0, fs, segments);
    let hop = (fs / 10.0).round() as usize;
    let mut m = meter(fs, 2);
    let mut pos = 0;
    x.chunks(hop)
        .map(|piece| {
            run(&mut m, &[piece.to_vec(), piece.to_vec()], 300, &mut pos);
            m.total_reading()
        })
        .collect()
}

#[test]
fn tech3341_case_9_short_term_is_constant() {
    // Alternating -20 dBFS for 1.34 s and -30 dBFS for 1.66 s, 5 times:
    // S = -23.0 ± 0.1 constant after 3 s.
    let seq: Vec<(f64, f64)> = (0..5).flat_map(|_| [(-20.0, 1.34), (-30.0, 1.66)]).collect();
    for fs in [44100.0, 48000.0] {
        let readings = readings_every_100ms(fs, &seq);
        for (i, r) in readings.iter().enumerate().skip(30) {
            assert_near(&format!("short-term at {} ms", (i + 1) * 100), r.short_term_lufs, -23.0, 0.1);
        }
    }
}

#[test]
fn tech3341_case_12_momentary_is_constant() {
    // Alternating -20 dBFS for 0.18 s and -30 dBFS for 0.22 s, 25 times:
    // M = -23.0 ± 0.1 constant after 0.4 s.
    let seq: Vec<(f64, f64)> = (0..25).flat_map(|_| [(-20.0, 0.18), (-30.0, 0.22)]).collect();
    for fs in [44100.0, 48000.0] {
        let readings = readings_every_100ms(fs, &seq);
        for (i, r) in readings.iter().enumerate().skip(4) {
            assert_near(&format!("momentary at {} ms", (i + 1) * 100), r.momentary_lufs, -23.0, 0.1);
        }
    }
}

#[test]
fn tech3342_cases_1_to_4_loudness_range() {
    // Tolerance of Tech 3342: ± 1 LU.
    let cases: [(&[(f64, f64)], f64); 4] = [
        (&[(-20.0, 20.0), (-30.0, 20.0)], 10.0),
        (&[(-20.0, 20.0), (-15.0, 20.0)], 5.0),
        (&[(-40.0, 20.0), (-20.0, 20.0)], 20.0),
        (&[(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),
    ];
    for (i, (segments, want)) in cases.iter().enumerate() {
        let r = stereo_reading(48000.0, segments);
        assert_near(&format!("Tech 3342 case {}", i + 1), r.loudness_range_lu, *want, 1.0);
    }
}

#[test]
fn silence_reads_minus_infinity_and_no_range() {
    let r = stereo_reading(48000.0, &[(f64::NEG_INFINITY, 5.0)]);
    assert_eq!(r.integrated_lufs, f64::NEG_INFINITY);
    assert_eq!(r.momentary_lufs, f64::NEG_INFINITY);
    assert_eq!(r.short_term_lufs, f64::NEG_INFINITY);
    assert_eq!(r.loudness_range_lu, 0.0);
    // Only blocks under the absolute gate: still -inf.
    let r = stereo_reading(48000.0, &[(-75.0, 5.0)]);
    assert_eq!(r.integrated_lufs, f64::NEG_INFINITY);
    assert_eq!(r.loudness_range_lu, 0.0);
}

#[test]
fn reset_integration_starts_integrated_and_range_anew() {
    let fs = 48000.0;
    let loud = tone_segments(1000.0, fs, &[(-13.0, 10.0)]);
    let soft = tone_segments(1000.0, fs, &[(-33.0, 10.0)]);
    let mut m = meter(fs, 2);
    let mut pos = 0;
    run(&mut m, &[loud.clone(), loud], 128, &mut pos);
    // Reset in the middle of a 100 ms sub-block, and again later.
    run(&mut m, &[soft[..2000].to_vec(), soft[..2000].to_vec()], 128, &mut pos);
    m.reset_integration();
    run(&mut m, &[soft[2000..].to_vec(), soft[2000..].to_vec()], 128, &mut pos);
    let r = m.total_reading();
    // Without the reset, -13 dBFS would dominate (about -16 LUFS).
    assert_near("integrated after reset", r.integrated_lufs, -33.0, 0.05);
    assert!(r.loudness_range_lu < 0.1, "{}", r.loudness_range_lu);
    // Peaks are not part of the integration.
    assert_near("peak", r.peak_db, -13.0, 0.01);
}
