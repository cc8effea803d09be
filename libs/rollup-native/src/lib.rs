//! The workers' fast path for completions marked validated: one pass over an envelope's
//! JSON that sums its calls per (project, model, provider, shortest window), the sums the
//! Python builder (`meterstream_derivations.inference`) prices and merges into partials.
//!
//! It adds what `_bucket_of` adds, in the same order and with the same float operations
//! (sketch bins from the same `log`), so the partials are the same to the bit. Whatever it
//! cannot read exactly (a time in another shape, a negative latency, a reported cost, which
//! the Python builder splits apart) makes it answer None, and Python reads the envelope.

mod time;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::Deserialize;

fn ok_status() -> Cow<'static, str> {
    Cow::Borrowed("ok")
}

/// The fields of a completion that rollups use (the others are skipped).
#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow)]
    project: Cow<'a, str>,
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    latency_ms: f64,
    #[serde(borrow, default)]
    provider: Option<Cow<'a, str>>,
    #[serde(borrow, default = "ok_status")]
    status: Cow<'a, str>,
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cached_tokens: u64,
    #[serde(default)]
    cache_creation_tokens: u64,
    #[serde(default)]
    cache_creation_1h_tokens: u64,
    #[serde(default)]
    reasoning_tokens: u64,
    #[serde(default)]
    reported_cost_usd: Option<f64>,
    #[serde(default)]
    ttft_ms: Option<f64>,
}

/// The sketch's constants, from Python (`meterstream_derivations.sketch`).
#[derive(Clone, Copy)]
struct Sketch {
    log_gamma: f64,
    min_indexable: f64,
    zero_bin: i64,
}

impl Sketch {
    /// `QuantileSketch.index`; None for what it refuses (negative, not finite).
    fn index(self, value: f64) -> Option<i64> {
        if value >= self.min_indexable && value < f64::INFINITY {
            Some((value.ln() / self.log_gamma).ceil() as i64)
        } else if value >= 0.0 && value < f64::INFINITY {
            Some(self.zero_bin)
        } else {
            None
        }
    }
}

/// Counts in first-seen order, as `collections.Counter` keeps them (looked up by hash: a
/// bucket's latency bins can number in the hundreds).
struct Counts<K> {
    order: Vec<(K, u64)>,
    index: HashMap<K, usize>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            order: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn add(&mut self, key: K) {
        match self.index.get(&key) {
            Some(&at) => self.order[at].1 += 1,
            None => {
                self.index.insert(key.clone(), self.order.len());
                self.order.push((key, 1));
            }
        }
    }
}

#[derive(Default)]
struct Bucket {
    count: u64,
    tokens: [u64; 6],
    errors: Counts<String>,
    latency_bins: Counts<i64>,
    ttft_bins: Counts<i64>,
    decode_seconds: f64,
    decode_tokens: u64,
}

type Key = (String, String, String, i64);

fn sums(data: &[u8], shortest: i64, sketch: Sketch) -> Option<Vec<(Key, Bucket)>> {
    let mut order: Vec<(Key, Bucket)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for document in sonic_rs::Deserializer::from_slice(data).into_stream::<Call>() {
        let call = document.ok()?;
        if call.reported_cost_usd.is_some() {
            return None;
        }
        let epoch = time::micros(&call.time)?.div_euclid(1_000_000);
        let provider = call.provider.as_deref().unwrap_or("");
        let key = (
            call.project.into_owned(),
            call.model.into_owned(),
            provider.to_owned(),
            epoch - epoch.rem_euclid(shortest),
        );
        let at = *index.entry(key.clone()).or_insert_with(|| {
            order.push((key, Bucket::default()));
            order.len() - 1
        });
        let bucket = &mut order[at].1;
        bucket.count += 1;
        let tokens = [
            call.input_tokens,
            call.output_tokens,
            call.cached_tokens,
            call.cache_creation_tokens,
            call.cache_creation_1h_tokens,
            call.reasoning_tokens,
        ];
        for (sum, n) in bucket.tokens.iter_mut().zip(tokens) {
            *sum = sum.checked_add(n)?;
        }
        let ok = call.status == "ok";
        if !ok {
            bucket.errors.add(call.status.into_owned());
        }
        bucket.latency_bins.add(sketch.index(call.latency_ms)?);
        if let Some(ttft) = call.ttft_ms {
            bucket.ttft_bins.add(sketch.index(ttft)?);
            if ok {
                bucket.decode_seconds += (call.latency_ms - ttft) / 1000.0;
                bucket.decode_tokens = bucket.decode_tokens.checked_add(call.output_tokens)?;
            }
        }
    }
    Some(order)
}

fn counts<'py, K: IntoPyObject<'py> + Clone>(
    py: Python<'py>,
    counts: &Counts<K>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, count) in &counts.order {
        dict.set_item(key.clone(), count)?;
    }
    Ok(dict)
}

/// Per (project, model, provider, window start) of the calls of `data`, in first-seen
/// order: (key, count, (input, output, cached, cache write, cache write 1h, reasoning
/// tokens), errors, latency bins, ttft bins, decode seconds, decode tokens); None when
/// the envelope is not one this reads exactly.
#[pyfunction]
#[pyo3(signature = (data, *, shortest, log_gamma, min_indexable, zero_bin))]
fn completion_sums<'py>(
    py: Python<'py>,
    data: &[u8],
    shortest: i64,
    log_gamma: f64,
    min_indexable: f64,
    zero_bin: i64,
) -> PyResult<Option<Vec<Bound<'py, PyTuple>>>> {
    let sketch = Sketch {
        log_gamma,
        min_indexable,
        zero_bin,
    };
    let Some(buckets) = sums(data, shortest, sketch) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(buckets.len());
    for (key, b) in buckets {
        out.push(PyTuple::new(
            py,
            [
                key.into_pyobject(py)?.into_any(),
                b.count.into_pyobject(py)?.into_any(),
                b.tokens.into_pyobject(py)?.into_any(),
                counts(py, &b.errors)?.into_any(),
                counts(py, &b.latency_bins)?.into_any(),
                counts(py, &b.ttft_bins)?.into_any(),
                b.decode_seconds.into_pyobject(py)?.into_any(),
                b.decode_tokens.into_pyobject(py)?.into_any(),
            ],
        )?);
    }
    Ok(Some(out))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(completion_sums, m)?)
}
