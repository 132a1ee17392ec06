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
