//! Issue #21's measurement, run by hand (ignored in the suite; it takes minutes): the first texts of
//! `tests/redteam/dev.jsonl` (written for this project) rendered in every layout of `common::screenshot`, read back
//! by OCR and checked. Prints character accuracy, verdict agreement (the image's label equals the typed text's),
//! time per image and the process's peak memory.
//!
//! `OMP_THREAD_LIMIT=1` is what `redflag check` runs Tesseract with (see `redflag::ocr::limit_openmp_threads`);
//! without it the times are about eight times longer on two cores.
//!
//! ```sh
//! OMP_THREAD_LIMIT=1 cargo test --workspace --release --test screenshot_measure -- --ignored --nocapture
//! ```

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::screenshot::{Layout, render, renderable};
use redflag::ocr::{Tesseract, analyze_image};
use redflag::{Analyzer, Input};

/// Texts per layout: 4 layouts × 30 = 120 images.
const TEXTS: usize = 30;

fn words(s: &str) -> Vec<char> {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
}

/// Levenshtein distance over characters, two rows.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.split_whitespace().skip(1).collect()))
        .unwrap_or_else(|| "unknown".into())
}

#[test]
#[ignore = "a measurement: minutes of OCR; run by hand (see the module docs)"]
fn measure_screenshots() {
    let analyzer = Analyzer::builtin().expect("analyzer");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/redteam/dev.jsonl");
    let texts: Vec<String> = std::fs::read_to_string(path)
        .expect("dev.jsonl")
        .lines()
        .take(TEXTS)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["text"].as_str().expect("text").into())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    println!("| layout | images | character accuracy | verdict agreement | flags agree | median time | max time |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (mut all, mut agree_all) = (0, 0);
    for layout in Layout::ALL {
        let (mut chars, mut errors, mut agree, mut flags_agree) = (0usize, 0usize, 0, 0);
        let mut times: Vec<Duration> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let image = dir.path().join(format!("{i}.png"));
            render(text, layout, &image);
            let bytes = std::fs::read(&image).expect("image");
            let typed = analyzer.analyze(&Input::text(text.as_str())).expect("typed");
            let started = Instant::now();
            let result = analyze_image(&Tesseract, &bytes, |input| analyzer.analyze(input));
            times.push(started.elapsed());
            let Ok((read, _)) = result else {
                chars += text.chars().count();
                errors += text.chars().count();
                continue;
            };
            let (want, got) = (words(read.input.as_ref().map_or("", |i| i.text.as_str())), words(&renderable(text)));
            chars += got.len();
            errors += distance(&want, &got).min(got.len());
            agree += usize::from(read.label == typed.label);
            flags_agree += usize::from(read.flag_ids() == typed.flag_ids());
        }
        times.sort();
        let n = texts.len();
        all += n;
        agree_all += agree;
        println!(
            "| {} | {n} | {:.1}% | {}/{n} | {}/{n} | {:.0} ms | {:.0} ms |",
            layout.name(),
            100.0 * (1.0 - errors as f64 / chars.max(1) as f64),
            agree,
            flags_agree,
            times[n / 2].as_secs_f64() * 1000.0,
            times[n - 1].as_secs_f64() * 1000.0,
        );
    }
    println!("\nverdict agreement overall: {agree_all}/{all}; peak memory (VmHWM): {}", peak_memory());
    assert!(all >= 100, "at least 100 images");
}
