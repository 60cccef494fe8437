//! Sahel Atlas: a map service for the conflict in Mali and the wider Sahel.
//!
//! Data flows one way: files -> [`load`] (validate) -> [`atlas::Atlas`] (indexes) ->
//! [`query`] -> [`http`].

// Functions stay short enough to read at once (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod archive;
pub mod atlas;
pub mod geodesy;
pub mod http;
pub mod live;
pub mod load;
pub mod model;
pub mod query;
pub mod store;
pub mod support;
pub mod synth;
pub mod tiles;
