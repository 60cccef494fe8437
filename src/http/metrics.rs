//! Request counters and latencies, exposed in Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::atlas::Atlas;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 9] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Cumulative counts per bucket in `BUCKETS`.
    buckets: [u64; BUCKETS.len()],
}

pub struct Metrics {
    started: Instant,
    /// (route, status) -> series.
    series: Mutex<BTreeMap<(&'static str, u16), Series>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            series: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    pub fn record(&self, route: &'static str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry((route, status)).or_default();
        s.count += 1;
        s.sum_seconds += secs;
        for (b, &le) in s.buckets.iter_mut().zip(BUCKETS.iter()) {
            if secs <= le {
                *b += 1;
            }
        }
    }

    pub fn render(&self, atlas: &Atlas) -> String {
        let mut out = String::new();
        let map = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        out.push_str("# HELP sahel_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE sahel_http_requests_total counter\n");
        for ((route, status), s) in &map {
            let _ = writeln!(
                out,
                "sahel_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP sahel_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE sahel_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<&str, Series> = BTreeMap::new();
        for ((route, _), s) in &map {
            let r = by_route.entry(route).or_default();
            r.count += s.count;
            r.sum_seconds += s.sum_seconds;
            for (a, b) in r.buckets.iter_mut().zip(s.buckets.iter()) {
                *a += b;
            }
        }
        for (route, s) in &by_route {
            for (le, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "sahel_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "sahel_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "sahel_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "sahel_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP sahel_atlas_items Items loaded in the atlas.\n");
        out.push_str("# TYPE sahel_atlas_items gauge\n");
        for (kind, n) in [
            ("events", atlas.events.len()),
            ("bases", atlas.bases.len()),
            ("regions", atlas.regions.len()),
            ("places", atlas.places.len()),
        ] {
            let _ = writeln!(out, "sahel_atlas_items{{kind=\"{kind}\"}} {n}");
        }
        out.push_str("# HELP sahel_uptime_seconds Seconds since the server started.\n");
        out.push_str("# TYPE sahel_uptime_seconds gauge\n");
        let _ = writeln!(
            out,
            "sahel_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        out
    }
}
