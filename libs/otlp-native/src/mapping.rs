//! GenAI spans → completion lines, the common case only. The rules' attribute names and
//! limits come from Python (`meterstream_gateway.otlp_traces`), which stays the reference:
//! a span whose mapping is anything but plain (an attribute of an unexpected type, a value
//! the contract would refuse, evaluation events, a time outside the raw tables' window) is
//! deferred to it, so every refusal and its reason are written in one place.

use crate::line::{write_completion, Completion};
use crate::proto::{KeyValue, Span, Value, STATUS_CODE_ERROR};

pub struct Rules {
    pub model: Vec<String>,
    pub provider: Vec<String>,
    pub input_tokens: Vec<String>,
    pub output_tokens: Vec<String>,
    pub cache_read_tokens: Vec<String>,
    pub cache_creation_tokens: Vec<String>,
    pub reasoning_tokens: Vec<String>,
    pub time_to_first_token_s: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub model_operations: Vec<String>,
    pub model_span_kinds: Vec<String>,
    pub evaluation_event: String,
    pub max_name_chars: usize,
    pub max_label_value_chars: usize,
    pub max_error_type_chars: usize,
    pub max_project_chars: usize,
    pub max_tokens: i64,
    pub earliest_us: i64,
    pub latest_us: i64,
}

pub enum Outcome {
    /// A model call: its message key and its completion line.
    Call(Vec<u8>, Vec<u8>),
    /// Not a model call: counted, not kept.
    Other,
    /// For the reference mapping to decide.
    Deferred,
}

/// A span's (or resource's) attributes, looked up as Python's dict of them would be: the
/// last pair of a key wins, and a value of a kind the mapping never reads is absent.
pub struct Attributes<'a>(&'a [KeyValue]);

impl<'a> Attributes<'a> {
    pub fn new(pairs: &'a [KeyValue]) -> Self {
        Attributes(pairs)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        let pair = self.0.iter().rev().find(|pair| pair.key == key)?;
        match pair.value.as_ref()?.value.as_ref()? {
            Value::Array(_) | Value::KeyValueList(_) | Value::Bytes(_) => None,
            value => Some(value),
        }
    }

    /// The first of `names` holding a value that is neither absent nor "".
    fn first(&self, names: &[String]) -> Option<&'a Value> {
        names.iter().find_map(|name| match self.get(name) {
            Some(Value::String(text)) if text.is_empty() => None,
            value => value,
        })
    }
}

pub struct Deferred;
pub type Step<T> = Result<T, Deferred>;

fn is_model_call(rules: &Rules, attributes: &Attributes) -> Step<bool> {
    if let Some(operation) = attributes.get("gen_ai.operation.name") {
        match operation {
            Value::String(name) if rules.model_operations.contains(name) => {}
            _ => return Ok(false),
        }
    }
    if let Some(kind) = attributes.get("openinference.span.kind") {
        match kind {
            Value::String(name) if name.is_ascii() => {
                if !rules.model_span_kinds.contains(&name.to_ascii_uppercase()) {
                    return Ok(false);
                }
            }
            Value::String(_) => return Err(Deferred),
            _ => return Ok(false),
        }
    }
    Ok(attributes.first(&rules.model).is_some())
}

/// The contract's project name: `^[A-Za-z0-9][A-Za-z0-9_.\-]*$`, within its length.
pub fn is_project(rules: &Rules, project: &str) -> bool {
    let mut chars = project.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && project.len() <= rules.max_project_chars
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_name(text: &str, max_chars: usize) -> bool {
    !text.is_empty()
        && text.chars().count() <= max_chars
        && !text.chars().any(|c| c <= '\u{1f}' || c == '\u{7f}')
}

fn name(rules: &Rules, value: Option<&Value>) -> Step<Option<String>> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) if is_name(text, rules.max_name_chars) => Ok(Some(text.clone())),
        Some(_) => Err(Deferred),
    }
}

fn count(rules: &Rules, attributes: &Attributes, names: &[String]) -> Step<i64> {
    match attributes.first(names) {
        None => Ok(0),
        Some(Value::Int(value)) if (0..=rules.max_tokens).contains(value) => Ok(*value),
        Some(_) => Err(Deferred),
    }
}

fn truncated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// The allow-listed attributes as (label, value) pairs, in the rules' order.
pub fn labels_of(rules: &Rules, attributes: &Attributes) -> Step<Vec<(String, String)>> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for (attribute, label) in &rules.labels {
        match attributes.get(attribute) {
            None => {}
            Some(Value::String(text)) if text.is_empty() => {}
            Some(Value::String(text)) => {
                let value = truncated(text, rules.max_label_value_chars);
                match labels.iter_mut().find(|(name, _)| name == label) {
                    Some(slot) => slot.1 = value,
                    None => labels.push((label.clone(), value)),
                }
            }
            Some(_) => return Err(Deferred),
        }
    }
    Ok(labels)
}

fn merged(resource: &[(String, String)], own: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut labels = resource.to_vec();
    for (label, value) in own {
        match labels.iter_mut().find(|(name, _)| *name == label) {
            Some(slot) => slot.1 = value,
            None => labels.push((label, value)),
        }
    }
    labels
}

fn micros(rules: &Rules, nanos: u64, oldest_us: i64) -> Step<i64> {
    let us = i64::try_from(nanos / 1000).map_err(|_| Deferred)?;
    if us < rules.earliest_us.max(oldest_us) || us >= rules.latest_us {
        return Err(Deferred);
    }
    Ok(us)
}

pub fn map_span(
    rules: &Rules,
    span: &Span,
    resource_labels: &[(String, String)],
    project: &str,
    oldest_us: i64,
) -> Outcome {
    match map_call(rules, span, resource_labels, project, oldest_us) {
        Ok(Some((key, line))) => Outcome::Call(key, line),
        Ok(None) => Outcome::Other,
        Err(Deferred) => Outcome::Deferred,
    }
}

fn map_call(
    rules: &Rules,
    span: &Span,
    resource_labels: &[(String, String)],
    project: &str,
    oldest_us: i64,
) -> Step<Option<(Vec<u8>, Vec<u8>)>> {
    let attributes = Attributes::new(&span.attributes);
    if !is_model_call(rules, &attributes)? {
        return Ok(None);
    }
    if span.trace_id.len() != 16 || span.span_id.len() != 8 {
        return Err(Deferred);
    }
    if span
        .events
        .iter()
        .any(|event| event.name == rules.evaluation_event)
    {
        return Err(Deferred);
    }
    let model = name(rules, attributes.first(&rules.model))?.ok_or(Deferred)?;
    let provider = name(rules, attributes.first(&rules.provider))?;

    let mut input_tokens = count(rules, &attributes, &rules.input_tokens)?;
    let cached_tokens = count(rules, &attributes, &rules.cache_read_tokens)?;
    let cache_creation_tokens = count(rules, &attributes, &rules.cache_creation_tokens)?;
    if cached_tokens > input_tokens {
        input_tokens += cached_tokens + cache_creation_tokens;
    }
    let output_tokens = count(rules, &attributes, &rules.output_tokens)?;
    let reasoning_tokens = count(rules, &attributes, &rules.reasoning_tokens)?;
    if input_tokens > rules.max_tokens
        || cached_tokens + cache_creation_tokens > input_tokens
        || reasoning_tokens > output_tokens
    {
        return Err(Deferred);
    }

    let (start, end) = (span.start_time_unix_nano, span.end_time_unix_nano);
    if end < start {
        return Err(Deferred);
    }
    let latency_ms = (end - start) as f64 / 1e6;
    let ttft_ms = match attributes.first(&rules.time_to_first_token_s) {
        None | Some(Value::String(_)) => None,
        Some(Value::Int(seconds)) => Some(*seconds as f64 * 1000.0),
        Some(Value::Double(seconds)) => Some(seconds * 1000.0),
        Some(_) => return Err(Deferred),
    };
    if let Some(ttft) = ttft_ms {
        if !ttft.is_finite() || ttft < 0.0 || ttft > latency_ms {
            return Err(Deferred);
        }
    }

    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == STATUS_CODE_ERROR);
    let error_type = match attributes.get("error.type") {
        Some(Value::String(text)) if !text.is_empty() => Some(text.as_str()),
        None | Some(Value::String(_)) => match &span.status {
            Some(status) if failed && !status.message.is_empty() => Some(status.message.as_str()),
            _ => None,
        },
        Some(_) => return Err(Deferred),
    };
    let streamed = match attributes.get("gen_ai.request.stream") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(Deferred),
    };
    let labels = merged(resource_labels, labels_of(rules, &attributes)?);

    let call = Completion {
        trace_id: &span.trace_id,
        span_id: &span.span_id,
        project,
        time_us: micros(rules, end, oldest_us)?,
        started_us: micros(rules, start, i64::MIN)?,
        model: &model,
        provider: provider.as_deref(),
        ttft_ms,
        latency_ms,
        input_tokens,
        output_tokens,
        cached_tokens,
        cache_creation_tokens,
        reasoning_tokens,
        status: if failed || error_type.is_some() {
            "error"
        } else {
            "ok"
        },
        error_type: match error_type {
            Some(text) => Some(truncated(text, rules.max_error_type_chars)),
            None if failed => Some("error".to_owned()),
            None => None,
        },
        streamed,
        labels: &labels,
    };
    let key = format!("{project}/{model}").into_bytes();
    Ok(Some((key, write_completion(&call))))
}
