//! Sahel Atlas: a map service for the conflict in Mali and the wider Sahel.
//!
//! Data flows one way: files -> [`load`] (validate) -> [`atlas::Atlas`] (indexes) ->
//! [`query`] -> [`http`].

// Functions stay short enough to read at once (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod archive;
pub mod atlas;
pub mod export;
pub mod geodesy;
pub mod grid;
pub mod gzip;
pub mod http;
pub mod import;
pub mod live;
pub mod load;
pub mod memory;
pub mod model;
pub mod notes;
pub mod pip;
pub mod plain_io;
pub mod progress;
pub mod query;
pub mod store;
pub mod synth;
pub mod text;
pub mod tiles;
pub mod words;
