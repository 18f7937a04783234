//! issue-tap
