//! welcome-pack
