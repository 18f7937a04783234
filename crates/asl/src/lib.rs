//! asl
