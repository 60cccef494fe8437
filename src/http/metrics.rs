//! Request counters and latencies in Prometheus text format at `/metrics`, kept by the
//! `prometheus` crate (atomic counters: no lock shared by every request).

use std::time::{Duration, Instant};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use crate::atlas::Atlas;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 9] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

pub struct Metrics {
    started: Instant,
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    items: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new().expect("static metric definitions are valid")
    }
}

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "sahel_http_requests_total",
                "HTTP requests by route and status.",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "sahel_http_request_duration_seconds",
                "Request latency by route.",
            )
            .buckets(BUCKETS.to_vec()),
            &["route"],
        )?;
        let items = IntGaugeVec::new(
            Opts::new("sahel_atlas_items", "Items loaded in the atlas."),
            &["kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(items.clone()))?;
        Ok(Metrics {
            started: Instant::now(),
            registry,
            requests,
            latency,
            items,
        })
    }

    pub fn record(&self, route: &'static str, status: u16, took: Duration) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    /// The metrics text; `tile_cache_bytes` is what the tile cache holds now.
    pub fn render(&self, atlas: &Atlas, tile_cache_bytes: u64) -> String {
        for (kind, n) in [
            ("events", atlas.event_count()),
            ("bases", atlas.bases().len()),
            ("regions", atlas.regions().len()),
            ("places", atlas.places().len()),
        ] {
            self.items.with_label_values(&[kind]).set(n as i64);
        }
        let mut out = Vec::new();
        // Encoding into a Vec fails only on invalid metric data, which cannot arise here.
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push_str("# HELP sahel_uptime_seconds Seconds since the server started.\n");
        text.push_str("# TYPE sahel_uptime_seconds gauge\n");
        text.push_str(&format!(
            "sahel_uptime_seconds {:.3}\n",
            self.started.elapsed().as_secs_f64()
        ));
        text.push_str("# HELP sahel_tile_cache_bytes Bytes of encoded tiles held in memory.\n");
        text.push_str("# TYPE sahel_tile_cache_bytes gauge\n");
        text.push_str(&format!("sahel_tile_cache_bytes {tile_cache_bytes}\n"));
        text
    }
}
