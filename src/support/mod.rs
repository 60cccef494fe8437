//! Small process-wide helpers the layers share: gzip at a chosen level, the allocator's
//! tuning, and progress reporting for long commands.

pub mod gzip;
pub mod memory;
pub mod progress;
