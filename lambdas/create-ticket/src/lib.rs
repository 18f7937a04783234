//! create-ticket
