//! Wire tests: every client against a mock HTTP server, asserting the exact request it sends
//! and what each documented error path turns into.

mod common;
mod graph;
mod jira;
mod servicenow;
mod slack;
mod workday;
