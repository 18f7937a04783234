//! JSON log lines that CloudWatch Logs Insights parses, with the step's ids on every line.
//!
//! One line per event:
//! `{"timestamp":"2026-11-26T12:00:00.123Z","level":"INFO","target":"issue_tap","message":"…",
//!   "execution_id":"…","worker_id":"…", …span fields…, …event fields…}`.
//! Fields of every enclosing span are flattened into the line, so wrapping a handler in
//! [`with_step_span`] is enough to put `execution_id` and `worker_id` on everything it logs.
//! A string field whose name ends in `_json` and holds JSON is emitted as JSON under the name
//! without the suffix (audit records use this for `details`).
//!
//! The level comes from `DAYONE_LOG`, else `RUST_LOG`, else `info`.
//! [`LogCapture`] is the same formatter writing into memory, for tests and the CLI.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Keys the formatter owns; an event or span field with one of these names is written as
/// `field.<name>` rather than overwriting it.
const RESERVED: [&str; 4] = ["timestamp", "level", "target", "message"];

#[derive(Default)]
struct JsonVisitor(Map<String, Value>);

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if let (Some(base), Value::String(s)) = (name.strip_suffix("_json"), &value)
            && let Ok(parsed) = serde_json::from_str::<Value>(s)
        {
            self.0.insert(base.to_string(), parsed);
            return;
        }
        self.0.insert(name.to_string(), value);
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// The fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// A `tracing` layer writing one flat JSON object per event to `W`.
pub struct JsonLayer<W> {
    make_writer: W,
}

impl<W> JsonLayer<W> {
    pub fn new(make_writer: W) -> Self {
        JsonLayer { make_writer }
    }
}

fn insert_field(line: &mut Map<String, Value>, key: String, value: Value) {
    if RESERVED.contains(&key.as_str()) {
        line.insert(format!("field.{key}"), value);
    } else {
        line.insert(key, value);
    }
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(SpanFields(visitor.0));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            let mut visitor = JsonVisitor(std::mem::take(&mut fields.0));
            values.record(&mut visitor);
            fields.0 = visitor.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_string()));
        line.insert("message".into(), Value::String(String::new()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        insert_field(&mut line, k.clone(), v.clone());
                    }
                }
            }
        }
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        for (k, v) in visitor.0 {
            if k == "message" {
                line.insert(k, v);
            } else {
                insert_field(&mut line, k, v);
            }
        }
        let Ok(mut bytes) = serde_json::to_vec(&Value::Object(line)) else {
            return;
        };
        bytes.push(b'\n');
        // One write per line so concurrent lines never interleave.
        let _ = self.make_writer.make_writer_for(meta).write_all(&bytes);
    }
}

/// The filter from `DAYONE_LOG`, else `RUST_LOG`, else `info`. A directive that does not
/// parse falls back to `info` rather than silencing the function.
pub fn env_filter() -> EnvFilter {
    let directive = std::env::var("DAYONE_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "info".to_string());
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the JSON logger on stdout (CloudWatch captures stdout) as the global default.
/// Calling it again, or after another subscriber was installed, does nothing.
pub fn init_logging() {
    let _ = tracing_subscriber::registry()
        .with(env_filter())
        .with(JsonLayer::new(std::io::stdout))
        .try_init();
}

/// The span that puts a step's ids on every line logged inside it.
pub fn step_span(execution_id: &str, worker_id: &str) -> tracing::Span {
    tracing::info_span!("step", execution_id = %execution_id, worker_id = %worker_id)
}

/// Runs `fut` inside [`step_span`].
pub async fn with_step_span<F: Future>(execution_id: &str, worker_id: &str, fut: F) -> F::Output {
    fut.instrument(step_span(execution_id, worker_id)).await
}

/// Collects every log line (all levels, TRACE included) in memory, in the production format.
///
/// ```
/// # use dayone_sdk::testing::LogCapture;
/// let capture = LogCapture::new();
/// {
///     let _guard = capture.set_default();
///     tracing::info!(user = "jsmith", "created");
/// }
/// assert_eq!(capture.records()[0]["user"], "jsmith");
/// capture.assert_absent(&["fake-secret"]);
/// ```
#[derive(Clone, Default)]
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
}

/// The writer handed to the layer for each line.
pub struct CaptureWriter {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter {
            buf: self.buf.clone(),
        }
    }
}

impl LogCapture {
    pub fn new() -> Self {
        Self::default()
    }

    /// A subscriber writing into this capture.
    pub fn dispatch(&self) -> tracing::Dispatch {
        tracing_subscriber::registry()
            .with(LevelFilter::TRACE)
            .with(JsonLayer::new(self.clone()))
            .into()
    }

    /// Captures everything logged on this thread until the guard drops. Use a
    /// current-thread runtime (`#[tokio::test]`'s default) so spawned tasks are seen too.
    ///
    /// It also makes sure the process has a global subscriber interested in every event
    /// ([`LogCapture::global`]): `tracing` caches per-callsite interest across all live
    /// subscribers, and with only short-lived per-test subscribers a callsite first hit
    /// between two tests could be cached as "never" and silently drop lines in later tests.
    pub fn set_default(&self) -> tracing::dispatcher::DefaultGuard {
        let _ = Self::global();
        tracing::dispatcher::set_default(&self.dispatch())
    }

    /// The process-wide capture, installed as the global subscriber on first use: it gets
    /// every line logged outside a [`LogCapture::set_default`] scope, from every thread.
    /// `None` if another global subscriber was installed first.
    pub fn global() -> Option<&'static LogCapture> {
        static GLOBAL: OnceLock<Option<LogCapture>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = LogCapture::new();
                tracing::dispatcher::set_global_default(capture.dispatch())
                    .ok()
                    .map(|_| capture)
            })
            .as_ref()
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }

    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_string).collect()
    }

    /// Every line parsed as JSON.
    pub fn records(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The lines whose `target` is `audit`.
    pub fn audit_records(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["target"] == "audit")
            .collect()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// Empties the capture.
    pub fn clear(&self) {
        self.buf.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Where each needle occurs: `(needle index, line number)`. Empty needles are ignored.
    pub fn find(&self, needles: &[&str]) -> Vec<(usize, usize)> {
        let mut hits = Vec::new();
        for (line_no, line) in self.lines().iter().enumerate() {
            for (i, needle) in needles.iter().enumerate() {
                if !needle.is_empty() && line.contains(needle) {
                    hits.push((i, line_no + 1));
                }
            }
        }
        hits
    }

    /// Panics if any needle (a secret, a TAP) appears in any captured line. The panic
    /// message says which needle (by index) on which line, never the needle or the line.
    pub fn assert_absent(&self, needles: &[&str]) {
        let hits = self.find(needles);
        assert!(
            hits.is_empty(),
            "{} captured log line(s) contain a forbidden value: (needle index, line) = {hits:?}",
            hits.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_line_inside_a_step_span_carries_the_ids() {
        let capture = LogCapture::new();
        let _g = capture.set_default();
        with_step_span("exec-1", "W100", async {
            tracing::info!(user = "jsmith", count = 3u64, ok = true, "created user");
            async { tracing::warn!("nested") }
                .instrument(tracing::info_span!("inner", call = "graph"))
                .await;
        })
        .await;
        tracing::info!("outside");
        let recs = capture.records();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0]["message"], "created user");
        assert_eq!(recs[0]["level"], "INFO");
        assert_eq!(recs[0]["execution_id"], "exec-1");
        assert_eq!(recs[0]["worker_id"], "W100");
        assert_eq!(recs[0]["user"], "jsmith");
        assert_eq!(recs[0]["count"], 3);
        assert_eq!(recs[0]["ok"], true);
        assert!(recs[0]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(recs[1]["execution_id"], "exec-1");
        assert_eq!(recs[1]["call"], "graph");
        assert_eq!(recs[1]["level"], "WARN");
        assert!(recs[2].get("execution_id").is_none());
    }

    #[test]
    fn reserved_keys_are_not_overwritten_and_json_fields_nest() {
        let capture = LogCapture::new();
        let _g = capture.set_default();
        tracing::info!(target: "t", level = "fake", details_json = r#"{"a":[1,2]}"#, "m");
        let rec = &capture.records()[0];
        assert_eq!(rec["level"], "INFO");
        assert_eq!(rec["field.level"], "fake");
        assert_eq!(rec["details"]["a"][1], 2);
        assert_eq!(rec["target"], "t");
    }

    #[test]
    fn assert_absent_finds_values_at_any_level_without_printing_them() {
        let capture = LogCapture::new();
        let _g = capture.set_default();
        tracing::trace!(token = "fake-tap-AAAA", "debugging");
        assert_eq!(capture.find(&["nothing", "fake-tap-AAAA"]), vec![(1, 1)]);
        let result = std::panic::catch_unwind(|| capture.assert_absent(&["fake-tap-AAAA"]));
        let msg = result
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("(0, 1)"), "{msg}");
        assert!(!msg.contains("fake-tap-AAAA"));
        capture.assert_absent(&["", "something else"]);
    }
}
