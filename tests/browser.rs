//! The web map in a real browser: runs `web/test/map.test.mjs` (playwright-core driving
//! Debian's Chromium) against the real server. Screenshots go to the build directory.

mod common;

use common::*;

#[test]
fn web_map_works_in_chromium() {
    let key = "browser-test-key";
    let archive = scratch("browser").join("base.pmtiles");
    export_pmtiles(&archive, 8);
    let served = format!("base={}", archive.display());
    // A second server stands in for object storage behind a CDN: the map reads the
    // PMTiles file from it by range requests, across origins.
    let cdn = Server::start(&["--archive", &served]);
    let remote = format!("cdn={}/archives/base/archive.pmtiles", cdn.base);
    let server = Server::start_env(
        &[
            "--web",
            path_str(&repo().join("web")),
            "--archive",
            &served,
            "--archive",
            &remote,
        ],
        &[("SAHEL_ATLAS_WRITE_KEYS", key)],
    );
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let out = std::process::Command::new("node")
        .arg(repo().join("web/test/map.test.mjs"))
        .arg(&server.base)
        .arg(&shots)
        .arg(key)
        .arg("base")
        .arg(&cdn.base)
        // Killed at the end, to reload the page with no server behind it.
        .env("SAHEL_SERVER_PID", server.pid().to_string())
        .output()
        .expect("run node (installed by the README's test command)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(shots.join("map-desktop.png").exists());
    eprintln!("{text}");
}
