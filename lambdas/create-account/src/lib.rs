//! create-account
