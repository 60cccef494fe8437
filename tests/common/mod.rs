//! Test harness: start the real `sahel-atlas` binary on a free 127.0.0.1 port, talk HTTP
//! to it, and run the independent truth scripts.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub mod postgres;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn geodata() -> PathBuf {
    repo().join("geodata")
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sahel-atlas")
}

/// A fresh scratch directory under the build directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A path for a store no other server uses.
pub fn fresh_store() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stores");
    std::fs::create_dir_all(&dir).expect("create store dir");
    let path = dir.join(format!("{}-{n}.gpkg", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `sahel-atlas serve` on 127.0.0.1:0 with the shipped data plus `extra` args,
    /// and (unless `extra` names one) a fresh store of its own.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_env(extra, &[])
    }

    /// [`Server::start`] with environment variables (e.g. write keys).
    pub fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.envs(env.iter().copied());
        cmd.arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(geodata())
            .args(extra);
        if !extra.contains(&"--store") {
            cmd.arg("--store").arg(fresh_store());
        }
        Server::spawn(cmd)
    }

    /// Starts a prepared `serve` command and waits for its address.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sahel-atlas");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not report its address within 60 s");
            }
        };
        Server { child, base }
    }

    pub fn get(&self, path: &str) -> Reply {
        get(&format!("{}{}", self.base, path))
    }

    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        send(method, &format!("{}{}", self.base, path), headers, body)
    }

    /// GET that must answer 200 with JSON.
    pub fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (after a signal).
    pub fn wait_exit(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
    /// `bytes` as text (lossy), for JSON and messages.
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request with `method`, headers and a body (for writes). Bodies are returned as sent.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    try_send(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like [`send`], with a failed connection as an error.
pub fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder().method(method).uri(url);
    let request = headers
        .iter()
        .fold(request, |r, (k, v)| r.header(*k, *v))
        .body(body.to_vec())
        .expect("request");
    let resp = agent.run(request).map_err(|e| e.to_string())?;
    Ok(reply_of(resp))
}

pub fn get(url: &str) -> Reply {
    get_with(url, &[])
}

/// GET with request headers. Bodies are returned as sent (no automatic decompression).
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    reply_of(resp)
}

fn reply_of(mut resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect::<Vec<_>>();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Exports the shipped data's tiles z0-`maxzoom` as a PMTiles archive at `out`.
pub fn export_pmtiles(out: &Path, maxzoom: u8) {
    let maxzoom = maxzoom.to_string();
    run_cli(&[
        "export".as_ref(),
        "tiles".as_ref(),
        "--maxzoom".as_ref(),
        maxzoom.as_ref(),
        "--data".as_ref(),
        geodata().as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
}

/// The Python with GeographicLib that `make test` set up (override with SAHEL_PYTHON).
/// Runs `sahel-atlas ARGS` to completion; panics with its output unless it succeeds, and
/// returns what it printed on stdout.
pub fn run_cli(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run sahel-atlas");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "sahel-atlas {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

pub fn python() -> PathBuf {
    std::env::var_os("SAHEL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"))
}

/// Runs `tests/truth/geodesic.py` and parses its JSON output.
pub fn truth(args: &[&str]) -> Value {
    run_truth("geodesic.py", args)
}

/// Runs a script of `tests/truth/` and parses its JSON output.
pub fn run_truth(script: &str, args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(repo().join("tests/truth").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run the README's test command, which installs it",
                python().display()
            )
        });
    assert!(
        out.status.success(),
        "truth script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("truth JSON")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Web Mercator, written out independently of the server's code: lon/lat -> world 0..1.
pub fn world(lon: f64, lat: f64) -> (f64, f64) {
    let lr = lat.to_radians();
    (
        (lon + 180.0) / 360.0,
        (1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0,
    )
}

/// The tile at zoom `z` holding a point (tiles are half-open squares).
pub fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let (x, y) = world(lon, lat);
    let n = (1u64 << z) as f64;
    ((x * n).floor() as u32, (y * n).floor() as u32)
}

/// Synthetic events in the full ACLED layout (`gen-events`), in a scratch file of `name`.
pub fn synthetic_events(name: &str, n: u32, seed: u32) -> PathBuf {
    let file = scratch(name).join("events.csv");
    let out = Command::new(bin())
        .args([
            "gen-events",
            "--n",
            &n.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(&file)
        .arg("--data")
        .arg(geodata())
        .output()
        .expect("run gen-events");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}
