//! The gateway's fast path for OTLP trace exports: decode a protobuf request once and map
//! its plain GenAI spans to completion lines, without a Python object per span.

mod line;
mod mapping;
mod proto;

use mapping::{labels_of, map_span, Attributes, Outcome, Rules};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The mapping's attribute names and the contract's limits, given once by Python.
#[pyclass(frozen, name = "SpanRules")]
struct PySpanRules(Rules);

#[pymethods]
impl PySpanRules {
    #[new]
    #[pyo3(signature = (*, model, provider, input_tokens, output_tokens, cache_read_tokens,
        cache_creation_tokens, reasoning_tokens, time_to_first_token_s, labels, model_operations,
        model_span_kinds, evaluation_event, max_name_chars, max_label_value_chars,
        max_error_type_chars, max_project_chars, max_tokens, earliest_us, latest_us))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: Vec<String>,
        provider: Vec<String>,
        input_tokens: Vec<String>,
        output_tokens: Vec<String>,
        cache_read_tokens: Vec<String>,
        cache_creation_tokens: Vec<String>,
        reasoning_tokens: Vec<String>,
        time_to_first_token_s: Vec<String>,
        labels: Vec<(String, String)>,
        model_operations: Vec<String>,
        model_span_kinds: Vec<String>,
        evaluation_event: String,
        max_name_chars: usize,
        max_label_value_chars: usize,
        max_error_type_chars: usize,
        max_project_chars: usize,
        max_tokens: i64,
        earliest_us: i64,
        latest_us: i64,
    ) -> Self {
        PySpanRules(Rules {
            model,
            provider,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_creation_tokens,
            reasoning_tokens,
            time_to_first_token_s,
            labels,
            model_operations,
            model_span_kinds,
            evaluation_event,
            max_name_chars,
            max_label_value_chars,
            max_error_type_chars,
            max_project_chars,
            max_tokens,
            earliest_us,
            latest_us,
        })
    }
}

/// A decoded ExportTraceServiceRequest.
#[pyclass(frozen, name = "TraceRequest")]
struct PyTraceRequest(proto::ExportTraceServiceRequest);

/// What the fast path made of a request's spans.
struct Mapped {
    calls: Vec<(Vec<u8>, Vec<u8>)>,
    other: usize,
    deferred: Vec<(usize, usize, usize)>,
}

fn map_request(
    request: &proto::ExportTraceServiceRequest,
    rules: &Rules,
    project: &str,
    oldest_us: i64,
) -> Mapped {
    let mut mapped = Mapped {
        calls: Vec::new(),
        other: 0,
        deferred: Vec::new(),
    };
    let project_ok = mapping::is_project(rules, project);
    for (r, resource_spans) in request.resource_spans.iter().enumerate() {
        let resource_attributes = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |resource| &resource.attributes[..]);
        let resource_labels = labels_of(rules, &Attributes::new(resource_attributes)).ok();
        for (s, scope) in resource_spans.scope_spans.iter().enumerate() {
            for (k, span) in scope.spans.iter().enumerate() {
                let outcome = match (&resource_labels, project_ok) {
                    (Some(labels), true) => map_span(rules, span, labels, project, oldest_us),
                    _ => Outcome::Deferred,
                };
                match outcome {
                    Outcome::Call(key, line) => mapped.calls.push((key, line)),
                    Outcome::Other => mapped.other += 1,
                    Outcome::Deferred => mapped.deferred.push((r, s, k)),
                }
            }
        }
    }
    mapped
}

type CallLines<'py> = Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>;

#[pymethods]
impl PyTraceRequest {
    /// Decode a protobuf body; ValueError when it is not one (the caller's own decoder
    /// then says why, in its words).
    #[staticmethod]
    fn parse(py: Python<'_>, body: &[u8]) -> PyResult<Self> {
        py.detach(|| proto::decode(body))
            .map(PyTraceRequest)
            .map_err(|error| PyValueError::new_err(error.to_string()))
    }

    #[getter]
    fn span_count(&self) -> usize {
        self.0
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    /// (message key and completion line of each plain model call, how many spans were not
    /// model calls, and the (resource, scope, span) indices of the spans deferred).
    fn map_calls<'py>(
        &self,
        py: Python<'py>,
        rules: &PySpanRules,
        project: &str,
        oldest_us: i64,
    ) -> (CallLines<'py>, usize, Vec<(usize, usize, usize)>) {
        let mapped = py.detach(|| map_request(&self.0, &rules.0, project, oldest_us));
        let calls = mapped
            .calls
            .iter()
            .map(|(key, line)| (PyBytes::new(py, key), PyBytes::new(py, line)))
            .collect();
        (calls, mapped.other, mapped.deferred)
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PySpanRules>()?;
    module.add_class::<PyTraceRequest>()?;
    Ok(())
}
