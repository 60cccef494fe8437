//! Lighthouse (npm `lighthouse` 12, driving Debian's Chromium) against the real server,
//! on the mobile and desktop presets: the audits a slow link cares about pass (text
//! compression, long cache lifetimes, no render-blocking resources, no request made
//! twice), accessibility and best practices stay 100, and on desktop the largest paint
//! comes within a second. The scores and the main-thread time per script are printed:
//! WebGL runs in software here (SwiftShader), so total blocking time is not a target.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::Value;

fn lighthouse(url: &str, preset: &str) -> Value {
    let out_file = scratch("lighthouse").join(format!("{preset}.json"));
    let mut cmd = Command::new(repo().join("web/test/node_modules/.bin/lighthouse"));
    cmd.arg(url)
        .arg("--output=json")
        .arg(format!("--output-path={}", out_file.display()))
        .arg("--quiet")
        .arg("--chrome-flags=--headless=new --no-sandbox --use-gl=swiftshader --enable-unsafe-swiftshader")
        .env("CHROME_PATH", std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    if preset == "desktop" {
        cmd.arg("--preset=desktop");
    }
    let out = cmd
        .output()
        .expect("run lighthouse (installed by the README's test command: npm ci in web/)");
    assert!(
        out.status.success(),
        "lighthouse {preset} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap()
}

fn score(report: &Value, path: &[&str]) -> Option<f64> {
    path.iter().fold(report, |v, k| &v[*k])["score"].as_f64()
}

#[test]
fn lighthouse_finds_the_map_fit_for_a_slow_link() {
    let server = Server::start(&["--web", path_str(&repo().join("web"))]);
    let url = format!("{}/", server.base);
    for preset in ["mobile", "desktop"] {
        let r = lighthouse(&url, preset);
        let categories: BTreeMap<&str, Option<f64>> =
            ["performance", "accessibility", "best-practices"]
                .into_iter()
                .map(|c| (c, score(&r, &["categories", c])))
                .collect();
        assert_eq!(
            categories["accessibility"],
            Some(1.0),
            "{preset}: {categories:?}"
        );
        assert_eq!(
            categories["best-practices"],
            Some(1.0),
            "{preset}: {categories:?}"
        );
        for audit in [
            "uses-text-compression",
            "uses-long-cache-ttl",
            "render-blocking-resources",
        ] {
            let a = &r["audits"][audit];
            assert_eq!(a["score"].as_f64(), Some(1.0), "{preset} {audit}: {a}");
        }
        // No URL fetched twice.
        let mut seen = BTreeMap::new();
        for item in r["audits"]["network-requests"]["details"]["items"]
            .as_array()
            .unwrap()
        {
            let u = item["url"].as_str().unwrap();
            if u.starts_with("http") {
                *seen.entry(u.to_string()).or_insert(0) += 1;
            }
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{preset}: fetched more than once: {twice:?}"
        );
        let lcp = r["audits"]["largest-contentful-paint"]["numericValue"]
            .as_f64()
            .unwrap();
        if preset == "desktop" {
            assert!(lcp <= 1000.0, "desktop LCP {lcp} ms");
        }
        let mut scripts: Vec<(String, f64)> = r["audits"]["bootup-time"]["details"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let u = i["url"].as_str().unwrap_or("");
                (
                    u.rsplit('/').next().unwrap_or(u).to_string(),
                    i["scripting"].as_f64().unwrap_or(0.0),
                )
            })
            .collect();
        scripts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let tbt = r["audits"]["total-blocking-time"]["numericValue"]
            .as_f64()
            .unwrap();
        eprintln!(
            "lighthouse {preset}: {categories:?}; LCP {lcp:.0} ms, TBT {tbt:.0} ms; scripting per script (ms): {scripts:?}"
        );
    }
}
