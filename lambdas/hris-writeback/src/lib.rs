//! hris-writeback
