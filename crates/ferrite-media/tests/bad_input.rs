//! Files that are not audio, or broken: an error naming the file and the reason, never a panic.

mod common;
use common::*;
use ferrite_media::{decode_file, probe_file, DecodeOptions, MediaErrorKind};

fn refused(p: &std::path::Path, reason: &str) {
    let e = probe_file(p).unwrap_err();
    assert_eq!(e.kind, MediaErrorKind::File);
    assert!(e.message.contains(&p.display().to_string()), "names the file: {}", e.message);
    assert!(e.message.contains(reason), "'{}' should say '{reason}'", e.message);
    assert!(decode_file(p, DecodeOptions::default()).is_err());
}

#[test]
fn what_is_not_audio_is_refused_with_its_reason() {
    let d = dir();
    let text = d.join("notes.mp3");
    std::fs::write(&text, b"these are not the droids you are looking for").unwrap();
    refused(&text, "not an audio file (no known container signature)");
    let empty = d.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    refused(&empty, "empty");
    refused(&d.join("missing.flac"), "no such file");
    refused(d, "directory");
    // A WAV header that claims 4 GB of data in a 60-byte file.
    let mut liar = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\xf0\xff\xff\xff".to_vec();
    liar.extend_from_slice(&[0u8; 16]);
    let p = d.join("liar.wav");
    std::fs::write(&p, &liar).unwrap();
    if let Ok(info) = probe_file(&p) {
        let dec = decode_file(&p, DecodeOptions::default()).unwrap();
        assert!(
            dec.channels[0].len() <= 4,
            "decodes what is there: {} of {} claimed frames",
            dec.channels[0].len(),
            info.frames
        );
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_instead_of_blocking() {
    let p = dir().join("pipe.wav");
    let _ = std::fs::remove_file(&p);
    assert!(std::process::Command::new("mkfifo").arg(&p).status().unwrap().success());
    refused(&p, "not a regular file");
}

#[test]
fn truncated_files_decode_their_intact_part() {
    let source = ffmpeg_decode(&fixture("s16.wav", &["-c:a", "pcm_s16le"]), 2);
    for (name, enc) in [
        ("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"][..]),
        ("lame.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"][..]),
        ("s16.wav", &["-c:a", "pcm_s16le"][..]),
        ("vorbis.ogg", &["-c:a", "libvorbis", "-q:a", "6"][..]),
    ] {
        let p = fixture(name, enc);
        let bytes = std::fs::read(&p).unwrap();
        let cut = dir().join(format!("cut-{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        match decode_file(&cut, DecodeOptions::default()) {
            Ok(d) => {
                let n = d.channels[0].len();
                assert!(n > FRAMES / 4 && n <= FRAMES, "{name}: {n} frames from half the file");
                if name.ends_with(".flac") || name.ends_with(".wav") {
                    let k = n.min(FRAMES / 3);
                    assert_eq!(&d.channels[0][..k], &source[0][..k], "{name}: the intact part is the source");
                }
            }
            Err(e) => assert!(e.message.contains(cut.to_str().unwrap()), "{name}: {}", e.message),
        }
    }
    // A file cut inside its headers.
    let p = fixture("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"]);
    let head = dir().join("head.flac");
    std::fs::write(&head, &std::fs::read(&p).unwrap()[..20]).unwrap();
    let e = probe_file(&head).unwrap_err();
    assert!(e.message.starts_with(head.to_str().unwrap()), "{}", e.message);
}

#[test]
fn a_float_file_holding_a_nan_or_an_infinity_is_refused_naming_the_frame() {
    use ferrite_media::{AudioFileWriter, BitDepth};
    for (name, bad) in [("nan.wav", f32::NAN), ("inf.wav", f32::NEG_INFINITY)] {
        let p = dir().join(name);
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let mut w = AudioFileWriter::create(&p, 48000, 2, BitDepth::Float32).unwrap();
        w.write(&[&x, &x]).unwrap();
        w.finish().unwrap();
        // Frame 700 of the second channel (interleaved f32 after "data" and its size).
        let mut bytes = std::fs::read(&p).unwrap();
        let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
        let at = data + (700 * 2 + 1) * 4;
        bytes[at..at + 4].copy_from_slice(&bad.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = decode_file(&p, DecodeOptions::default()).unwrap_err();
        let m = &e.message;
        assert!(m.starts_with(p.to_str().unwrap()), "{m}");
        assert!(m.contains("frame 700 of channel 2") && m.contains("must be finite"), "{m}");
        // Up to the packet holding it, the file still streams: a decoder
        // reading frame by frame stops with the same error, not a NaN.
        let mut d = ferrite_media::Decoder::open(&p).unwrap();
        let (mut l, mut r) = (vec![0.0f32; 100], vec![0.0f32; 100]);
        let mut outcome = Ok(0);
        for _ in 0..20 {
            outcome = d.read(&mut [&mut l, &mut r]);
            match &outcome {
                Ok(0) | Err(_) => break,
                Ok(_) => assert!(l.iter().chain(&r).all(|v| v.is_finite())),
            }
        }
        assert!(outcome.is_err_and(|e| e.message.contains("frame 700")), "{name}");
    }
}
