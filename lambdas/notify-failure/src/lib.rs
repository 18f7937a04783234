//! notify-failure
