//! The execution history: AWS-like events, and an observer hook for live rendering.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// An event type, named as in Step Functions' `GetExecutionHistory` (`PassStateEntered`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    StateEntered,
    StateExited,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    RetryScheduled,
}

/// One history event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    /// The AWS event type name, e.g. `PassStateEntered`, `TaskSucceeded`, `MapIterationStarted`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    #[serde(skip)]
    pub kind: EventType,
    /// The state the event belongs to, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_name")]
    pub state_name: Option<Arc<str>>,
    /// The state's `Type` (`Pass`, `Task`…) for state events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_type: Option<&'static str>,
    /// The state's (or execution's) input. Shared with the running execution rather than
    /// copied: one state's output and the next state's input are the same allocation.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_payload"
    )]
    pub input: Option<Arc<Value>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_payload"
    )]
    pub output: Option<Arc<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Task resource, for task events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Map iteration index, for iteration events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Retry attempt number (1-based) for `RetryScheduled` and the task events after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_attempt: Option<u32>,
    /// Delay before the retry, for `RetryScheduled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// `PassStateEntered`, `TaskStateExited`…, without allocating.
fn state_event_name(state_type: &str, entered: bool) -> &'static str {
    match (state_type, entered) {
        ("Pass", true) => "PassStateEntered",
        ("Pass", false) => "PassStateExited",
        ("Task", true) => "TaskStateEntered",
        ("Task", false) => "TaskStateExited",
        ("Choice", true) => "ChoiceStateEntered",
        ("Choice", false) => "ChoiceStateExited",
        ("Wait", true) => "WaitStateEntered",
        ("Wait", false) => "WaitStateExited",
        ("Succeed", true) => "SucceedStateEntered",
        ("Succeed", false) => "SucceedStateExited",
        ("Fail", true) => "FailStateEntered",
        ("Fail", false) => "FailStateExited",
        ("Parallel", true) => "ParallelStateEntered",
        ("Parallel", false) => "ParallelStateExited",
        ("Map", true) => "MapStateEntered",
        ("Map", false) => "MapStateExited",
        (_, true) => "StateEntered",
        (_, false) => "StateExited",
    }
}

impl EventType {
    /// The AWS name of a non-state event type.
    pub fn name(&self) -> &'static str {
        match self {
            EventType::ExecutionStarted => "ExecutionStarted",
            EventType::ExecutionSucceeded => "ExecutionSucceeded",
            EventType::ExecutionFailed => "ExecutionFailed",
            EventType::StateEntered => "StateEntered",
            EventType::StateExited => "StateExited",
            EventType::TaskScheduled => "TaskScheduled",
            EventType::TaskStarted => "TaskStarted",
            EventType::TaskSubmitted => "TaskSubmitted",
            EventType::TaskSucceeded => "TaskSucceeded",
            EventType::TaskFailed => "TaskFailed",
            EventType::TaskTimedOut => "TaskTimedOut",
            EventType::ParallelStateStarted => "ParallelStateStarted",
            EventType::ParallelStateSucceeded => "ParallelStateSucceeded",
            EventType::ParallelStateFailed => "ParallelStateFailed",
            EventType::MapStateStarted => "MapStateStarted",
            EventType::MapStateSucceeded => "MapStateSucceeded",
            EventType::MapStateFailed => "MapStateFailed",
            EventType::MapIterationStarted => "MapIterationStarted",
            EventType::MapIterationSucceeded => "MapIterationSucceeded",
            EventType::MapIterationFailed => "MapIterationFailed",
            EventType::RetryScheduled => "RetryScheduled",
        }
    }
}

fn ser_name<S: serde::Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(n),
        None => s.serialize_none(),
    }
}

/// Serialises a shared payload exactly like the plain JSON value it holds.
pub(crate) fn ser_payload<S: serde::Serializer>(
    v: &Option<Arc<Value>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(p) => p.as_ref().serialize(s),
        None => s.serialize_none(),
    }
}

impl HistoryEvent {
    pub(crate) fn new(kind: EventType, state: Option<(&Arc<str>, &'static str)>) -> HistoryEvent {
        let event_type = match (kind, state) {
            (EventType::StateEntered, Some((_, t))) => state_event_name(t, true),
            (EventType::StateExited, Some((_, t))) => state_event_name(t, false),
            (k, _) => k.name(),
        };
        HistoryEvent {
            id: 0,
            previous_event_id: 0,
            timestamp: DateTime::<Utc>::MIN_UTC,
            event_type,
            kind,
            state_name: state.map(|(n, _)| n.clone()),
            state_type: state.map(|(_, t)| t),
            input: None,
            output: None,
            error: None,
            cause: None,
            resource: None,
            index: None,
            retry_attempt: None,
            delay_ms: None,
        }
    }
}

/// Receives every event as it is recorded (e.g. a CLI's live timeline). Called on the
/// execution's task: keep it quick, hand off to a channel for anything slow.
pub trait ExecutionObserver: Send + Sync {
    fn on_event(&self, event: &HistoryEvent);
}

/// Forwards events into a tokio unbounded channel.
impl ExecutionObserver for tokio::sync::mpsc::UnboundedSender<HistoryEvent> {
    fn on_event(&self, event: &HistoryEvent) {
        let _ = self.send(event.clone());
    }
}

/// The shared, append-only event log of one execution.
#[derive(Clone)]
pub(crate) struct History {
    events: Arc<Mutex<Vec<HistoryEvent>>>,
    observer: Option<Arc<dyn ExecutionObserver>>,
    pub record_data: bool,
}

impl History {
    pub fn new(
        observer: Option<Arc<dyn ExecutionObserver>>,
        record_data: bool,
        capacity: usize,
    ) -> History {
        History {
            events: Arc::new(Mutex::new(Vec::with_capacity(capacity))),
            observer,
            record_data,
        }
    }

    /// Appends, assigning id, previous id and timestamp; returns the id.
    pub fn push(&self, mut ev: HistoryEvent, now: DateTime<Utc>) -> u64 {
        let mut g = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let id = g.len() as u64 + 1;
        ev.id = id;
        ev.previous_event_id = id - 1;
        ev.timestamp = now;
        if let Some(o) = &self.observer {
            o.on_event(&ev);
        }
        g.push(ev);
        id
    }

    pub fn snapshot(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn take(&self) -> Vec<HistoryEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
