//! allocate-username
