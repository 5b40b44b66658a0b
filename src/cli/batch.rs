//! `redflag check --jsonl`: one JSON object per input line, one verdict per output line, in input order, on all
//! cores. Lines are read in bounded chunks so memory stays flat on any batch size, and a bad line becomes an
//! `{"id": ..., "error": ...}` line while the rest goes on.

use std::io::{BufRead, Write};

use anyhow::Context;
use rayon::prelude::*;
use redflag::{Analysis, Analyzer, Input};
use serde::Serialize;
use serde_json::Value;

use super::escalation::Plan;
use super::read::{Source, binary_kind, decode};

/// A line longer than this is refused (its id is still reported) rather than buffered.
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Lines analysed per parallel chunk, and the chunk's memory cap.
const CHUNK_LINES: usize = 2048;
const CHUNK_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Serialize)]
struct Verdict<'a> {
    id: &'a Value,
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Failure<'a> {
    id: &'a Value,
    error: String,
}

/// One raw input line: its 1-based number and bytes (or why it could not be read whole).
struct Line {
    number: usize,
    bytes: Result<Vec<u8>, String>,
}

/// What one input line became before rendering: nothing (blank), a finished output line (an error), or an
/// analysis that the escalation pass may still change.
enum Processed {
    Skip,
    Line(String),
    Verdict { id: Value, analysis: Box<Analysis>, warnings: Vec<String> },
}

pub fn run(source: Source, plan: &Plan) -> anyhow::Result<()> {
    let analyzer: &Analyzer = plan.checker().analyzer();
    let name = source.name();
    let mut reader = source.open()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut number = 0usize;
    loop {
        let mut chunk = Vec::new();
        let mut chunk_bytes = 0usize;
        while chunk.len() < CHUNK_LINES && chunk_bytes < CHUNK_BYTES {
            number += 1;
            match read_line(&mut reader).with_context(|| format!("cannot read {name}"))? {
                None => break,
                Some(bytes) => {
                    chunk_bytes += bytes.as_ref().map_or(0, Vec::len);
                    chunk.push(Line { number, bytes });
                }
            }
        }
        if chunk.is_empty() {
            break;
        }
        let done = chunk.len() < CHUNK_LINES && chunk_bytes < CHUNK_BYTES;
        let processed: Vec<Processed> = chunk.into_par_iter().map(|line| process(analyzer, line)).collect();
        for line in escalate(processed, plan).into_iter().filter_map(render) {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        if done {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

/// Read one line without buffering more than [`MAX_LINE_BYTES`]; a longer line is skipped to its end.
fn read_line(reader: &mut dyn BufRead) -> std::io::Result<Option<Result<Vec<u8>, String>>> {
    let mut line = Vec::new();
    let mut overflow = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(if line.is_empty() && !overflow { None } else { Some(finish(line, overflow)) });
        }
        let (take, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !overflow {
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            if take > room {
                overflow = true;
                // Keep the start: the id usually comes first and is reported with the error.
                line.extend_from_slice(&available[..room.min(take)]);
            } else {
                line.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        if found {
            return Ok(Some(finish(line, overflow)));
        }
    }
}

fn finish(mut line: Vec<u8>, overflow: bool) -> Result<Vec<u8>, String> {
    if overflow {
        return Err(format!("line is longer than {} MB; split the input", MAX_LINE_BYTES / (1024 * 1024)));
    }
    while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

/// Analyse one line locally; blank lines produce nothing, bad lines their error line.
fn process(analyzer: &Analyzer, line: Line) -> Processed {
    let fallback_id = Value::from(line.number);
    let bytes = match line.bytes {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => return Processed::Skip,
        Ok(b) => b,
        Err(e) => return Processed::Line(failure(&fallback_id, format!("line {}: {e}", line.number))),
    };
    if binary_kind(&bytes).is_some() {
        return Processed::Line(failure(
            &fallback_id,
            format!("line {}: contains binary data (NUL bytes)", line.number),
        ));
    }
    let mut notes = Vec::new();
    let text = decode(bytes, false, &mut notes);
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Processed::Line(failure(&fallback_id, format!("line {}: not valid JSON: {e}", line.number))),
    };
    let id = value.get("id").filter(|id| !id.is_null()).cloned().unwrap_or(fallback_id);
    let (input, mut warnings) = match Input::from_json(value) {
        Ok(parsed) => parsed,
        Err(e) => return Processed::Line(failure(&id, format!("line {}: {e}", line.number))),
    };
    warnings.extend(notes);
    match analyzer.analyze(&input) {
        Ok(analysis) => Processed::Verdict { id, analysis: Box::new(analysis), warnings },
        Err(e) => Processed::Line(failure(&id, format!("line {}: {e}", line.number))),
    }
}

/// Run the escalation tier over a chunk's analyses (concurrently when it may call out), keeping line order.
fn escalate(processed: Vec<Processed>, plan: &Plan) -> Vec<Processed> {
    let (mut slots, mut analyses) = (Vec::with_capacity(processed.len()), Vec::new());
    for p in processed {
        match p {
            Processed::Verdict { id, analysis, warnings } => {
                analyses.push(*analysis);
                slots.push(Err((id, warnings)));
            }
            other => slots.push(Ok(other)),
        }
    }
    let mut escalated = plan.apply_many(analyses).into_iter();
    slots
        .into_iter()
        .filter_map(|slot| match slot {
            Ok(done) => Some(done),
            Err((id, warnings)) => {
                escalated.next().map(|analysis| Processed::Verdict { id, analysis: Box::new(analysis), warnings })
            }
        })
        .collect()
}

/// The output line for one processed input.
fn render(p: Processed) -> Option<String> {
    match p {
        Processed::Skip => None,
        Processed::Line(line) => Some(line),
        Processed::Verdict { id, mut analysis, warnings } => {
            analysis.text = None;
            Some(
                serde_json::to_string(&Verdict { id: &id, analysis: &analysis, warnings })
                    .unwrap_or_else(|e| failure(&id, format!("cannot encode the verdict: {e}"))),
            )
        }
    }
}

fn failure(id: &Value, error: String) -> String {
    serde_json::to_string(&Failure { id, error }).unwrap_or_else(|_| r#"{"error":"unencodable error"}"#.to_string())
}
