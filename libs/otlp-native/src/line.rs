//! A completion as the contract's JSON line: the fields in the model's order, times as
//! ISO 8601 UTC with microseconds (as pydantic writes them), ids derived from the span's.

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use std::io::Write as _;

pub struct Completion<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub project: &'a str,
    pub time_us: i64,
    pub started_us: i64,
    pub model: &'a str,
    pub provider: Option<&'a str>,
    pub ttft_ms: Option<f64>,
    pub latency_ms: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cache_creation_tokens: i64,
    pub reasoning_tokens: i64,
    pub status: &'a str,
    pub error_type: Option<String>,
    pub streamed: bool,
    pub labels: &'a [(String, String)],
}

fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

/// The name-based UUID of a span (BLAKE2b-128 of trace id, a zero byte, span id, with the
/// version 5 and RFC 4122 variant bits), hyphenated: `stable_uuid` in otlp_traces.py.
fn event_id(trace_id: &[u8], span_id: &[u8], out: &mut Vec<u8>) {
    let mut hasher = Blake2bVar::new(16).expect("16 is a valid BLAKE2b output size");
    hasher.update(trace_id);
    hasher.update(&[0]);
    hasher.update(span_id);
    let mut digest = [0u8; 16];
    hasher
        .finalize_variable(&mut digest)
        .expect("the buffer is the output size");
    digest[6] = (digest[6] & 0x0F) | 0x50;
    digest[8] = (digest[8] & 0x3F) | 0x80;
    for (index, part) in [
        &digest[0..4],
        &digest[4..6],
        &digest[6..8],
        &digest[8..10],
        &digest[10..16],
    ]
    .iter()
    .enumerate()
    {
        if index > 0 {
            out.push(b'-');
        }
        hex(part, out);
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-12-05T07:16:25.568075Z`; the fraction is left out when it is zero.
fn timestamp(us: i64, out: &mut Vec<u8>) {
    let seconds = us.div_euclid(1_000_000);
    let fraction = us.rem_euclid(1_000_000);
    let (year, month, day) = civil(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let _ = write!(
        out,
        "\"{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
    );
    if fraction != 0 {
        let _ = write!(out, ".{fraction:06}");
    }
    out.extend_from_slice(b"Z\"");
}

/// Written straight into the line (no String per field).
fn string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("a str always serializes");
}

fn float(value: f64, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, &value).expect("a finite float serializes");
}

pub fn write_completion(call: &Completion) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(640);
    out.extend_from_slice(b"{\"kind\":\"completion\",\"schema_version\":1,\"event_id\":\"");
    event_id(call.trace_id, call.span_id, &mut out);
    out.extend_from_slice(b"\",\"time\":");
    timestamp(call.time_us, &mut out);
    out.extend_from_slice(b",\"project\":");
    string(call.project, &mut out);
    out.extend_from_slice(b",\"completion_id\":\"otel-");
    hex(call.trace_id, &mut out);
    out.push(b'-');
    hex(call.span_id, &mut out);
    out.extend_from_slice(b"\",\"model\":");
    string(call.model, &mut out);
    out.extend_from_slice(b",\"provider\":");
    match call.provider {
        Some(provider) => string(provider, &mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"started_at\":");
    timestamp(call.started_us, &mut out);
    out.extend_from_slice(b",\"ttft_ms\":");
    match call.ttft_ms {
        Some(ttft) => float(ttft, &mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"latency_ms\":");
    float(call.latency_ms, &mut out);
    let _ = write!(
        out,
        ",\"input_tokens\":{},\"output_tokens\":{},\"cached_tokens\":{},\
         \"cache_creation_tokens\":{},\"cache_creation_1h_tokens\":0,\"reasoning_tokens\":{},\
         \"reported_cost_usd\":null,\"status\":\"{}\",\"error_type\":",
        call.input_tokens,
        call.output_tokens,
        call.cached_tokens,
        call.cache_creation_tokens,
        call.reasoning_tokens,
        call.status,
    );
    match &call.error_type {
        Some(error_type) => string(error_type, &mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(if call.streamed {
        b",\"streamed\":true,\"labels\":{"
    } else {
        b",\"streamed\":false,\"labels\":{"
    });
    for (index, (label, value)) in call.labels.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(label, &mut out);
        out.push(b':');
        string(value, &mut out);
    }
    out.extend_from_slice(b"}}");
    out
}
