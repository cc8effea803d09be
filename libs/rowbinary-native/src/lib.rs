//! The sink's fast path into `raw_completions`: the contract's JSON lines re-encoded as
//! ClickHouse RowBinary, which the server reads for about half the CPU of JSONEachRow.
//!
//! Every value is written exactly as JSONEachRow would store it (a missing key or a null
//! for a column that is not Nullable as the column's default). Whatever this encoder
//! cannot read exactly (an unknown time shape, a number where a string is due, a label
//! key twice...) refuses the whole payload with the line it stopped at; the caller then
//! sends the JSON as it is and ClickHouse's own parser decides.

mod time;

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The columns written, in order; the table fills the others from their defaults.
const COLUMNS: [&str; 21] = [
    "schema_version",
    "event_id",
    "time",
    "project",
    "completion_id",
    "model",
    "provider",
    "started_at",
    "ttft_ms",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "cache_creation_1h_tokens",
    "reasoning_tokens",
    "reported_cost_usd",
    "status",
    "error_type",
    "streamed",
    "labels",
];

type Text<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Completion<'a> {
    schema_version: Option<u8>,
    #[serde(borrow)]
    event_id: Text<'a>,
    #[serde(borrow)]
    time: Text<'a>,
    #[serde(borrow)]
    project: Text<'a>,
    #[serde(borrow)]
    completion_id: Text<'a>,
    #[serde(borrow)]
    model: Text<'a>,
    #[serde(borrow)]
    provider: Text<'a>,
    #[serde(borrow)]
    started_at: Text<'a>,
    ttft_ms: Option<f64>,
    latency_ms: Option<f64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cached_tokens: Option<u64>,
    cache_creation_tokens: Option<u64>,
    cache_creation_1h_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    reported_cost_usd: Option<f64>,
    #[serde(borrow)]
    status: Text<'a>,
    #[serde(borrow)]
    error_type: Text<'a>,
    streamed: Option<bool>,
    #[serde(borrow)]
    labels: Option<Labels<'a>>,
}

/// A JSON object of strings, in its order; a key twice is refused.
struct Labels<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs: Vec<(Cow<'de, str>, Cow<'de, str>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<Cow<'de, str>, Cow<'de, str>>()? {
                    if pairs.iter().any(|(seen, _)| *seen == key) {
                        return Err(serde::de::Error::custom(format!("label {key:?} twice")));
                    }
                    pairs.push((key, value));
                }
                Ok(Labels(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_nullable(out: &mut Vec<u8>, value: Option<f64>) {
    match value {
        None => out.push(1),
        Some(v) => {
            out.push(0);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn put_time(out: &mut Vec<u8>, text: &Text, field: &str) -> Result<(), String> {
    let micros = match text {
        None => 0,
        Some(t) => time::micros(t).ok_or_else(|| format!("{field}: {t:?} is not read here"))?,
    };
    out.extend_from_slice(&micros.to_le_bytes());
    Ok(())
}

/// A UUID as ClickHouse's RowBinary has it: its two 64-bit halves, each little-endian.
fn put_uuid(out: &mut Vec<u8>, text: &Text) -> Result<(), String> {
    let Some(text) = text else {
        out.extend_from_slice(&[0; 16]);
        return Ok(());
    };
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return Err(format!("event_id: {text:?} is not read here"));
    }
    let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
    let half = |from: usize| -> Result<u64, String> {
        let digits = std::str::from_utf8(&hex[from..from + 16]).map_err(|e| e.to_string())?;
        u64::from_str_radix(digits, 16).map_err(|_| format!("event_id: {text:?} is not hex"))
    };
    out.extend_from_slice(&half(0)?.to_le_bytes());
    out.extend_from_slice(&half(16)?.to_le_bytes());
    Ok(())
}

fn encode<'a>(out: &mut Vec<u8>, c: &'a Completion) -> Result<(), String> {
    let text = |t: &'a Text| t.as_deref().unwrap_or("");
    out.push(c.schema_version.unwrap_or(0));
    put_uuid(out, &c.event_id)?;
    put_time(out, &c.time, "time")?;
    put_text(out, text(&c.project));
    put_text(out, text(&c.completion_id));
    put_text(out, text(&c.model));
    put_text(out, text(&c.provider));
    put_time(out, &c.started_at, "started_at")?;
    put_nullable(out, c.ttft_ms);
    out.extend_from_slice(&c.latency_ms.unwrap_or(0.0).to_le_bytes());
    for tokens in [
        c.input_tokens,
        c.output_tokens,
        c.cached_tokens,
        c.cache_creation_tokens,
        c.cache_creation_1h_tokens,
        c.reasoning_tokens,
    ] {
        out.extend_from_slice(&tokens.unwrap_or(0).to_le_bytes());
    }
    put_nullable(out, c.reported_cost_usd);
    put_text(out, text(&c.status));
    put_text(out, text(&c.error_type));
    out.push(u8::from(c.streamed.unwrap_or(false)));
    let labels = c.labels.as_ref().map_or(&[][..], |l| &l.0[..]);
    put_varint(out, labels.len() as u64);
    for (key, value) in labels {
        put_text(out, key);
        put_text(out, value);
    }
    Ok(())
}

/// `data` (completions as JSON documents, one after another) as RowBinary rows of
/// `COMPLETION_COLUMNS`, and how many; ValueError names the document it could not encode.
#[pyfunction]
fn completion_rows<'py>(py: Python<'py>, data: &[u8]) -> PyResult<(Bound<'py, PyBytes>, usize)> {
    let mut out = Vec::with_capacity(data.len() / 3);
    let mut rows = 0usize;
    for document in serde_json::Deserializer::from_slice(data).into_iter::<Completion>() {
        let refused = |why: String| PyValueError::new_err(format!("document {rows}: {why}"));
        let completion = document.map_err(|e| refused(e.to_string()))?;
        encode(&mut out, &completion).map_err(refused)?;
        rows += 1;
    }
    Ok((PyBytes::new(py, &out), rows))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(completion_rows, m)?)?;
    m.add("COMPLETION_COLUMNS", COLUMNS.to_vec())?;
    Ok(())
}
