//! Every twin exercised over real HTTP, the way a client sees it.

mod common;
mod graph;
mod jira;
mod knobs;
mod servicenow;
mod slack;
mod workday;
