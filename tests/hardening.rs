//! What a security review and hostile clients try, over raw sockets (an HTTP library would
//! tidy the request up first): response headers, and paths that try to leave the web
//! map's and the fonts' folders.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// Sends `request` as it is and returns the whole answer (the server closes after it).
fn raw(server: &Server, request: &[u8]) -> String {
    let addr = server.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[test]
fn responses_carry_the_headers_a_review_expects() {
    let server = Server::start(&[]);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    for path in [
        "/",
        "/app.js",
        "/api/events?limit=1",
        "/tiles/6/31/29.mvt",
        "/ogc/api",
        "/nowhere",
        "/api/events?bbox=x",
    ] {
        let r = server.get(path);
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("server"), None, "{path}: no version banner");
    }
}

/// No request reads a file outside the web map's files: dot segments, encoded ones,
/// backslashes, absolute paths and NUL bytes are all unknown paths or bad requests.
#[test]
fn paths_cannot_leave_their_folders() {
    let server = Server::start(&[]);
    let secrets = [
        "[package]",
        "root:x:0",
        "[core]",
        "event_id_cnty",
        "maplibregl.Map",
        "\"name\": \"maplibre-gl\"",
    ];
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/vendor/../../Cargo.toml",
        "/vendor/%2e%2e/%2e%2e/Cargo.toml",
        "/vendor/..%2f..%2fCargo.toml",
        "/vendor/..%5c..%5cCargo.toml",
        "/..\\..\\Cargo.toml",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/etc/passwd",
        "/index.html%00.js",
        "/app.js%00",
        "/.git/config",
        "/node_modules/maplibre-gl/package.json",
        "/web/app.js",
        "/geodata/events.csv",
        "/fonts/../../Cargo.toml",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw(&server, request.as_bytes());
        let status = status_of(&answer);
        assert!(matches!(status, 400 | 404), "{path}: {status}\n{answer}");
        for s in secrets {
            assert!(!answer.contains(s), "{path} leaked {s:?}:\n{answer}");
        }
    }
    // The font stack is a name, not a path: any name gets our glyphs, never a file.
    for stack in ["..%2f..%2fCargo.toml", "%2e%2e", "..%00"] {
        let path = format!("/fonts/{stack}/0-255.pbf");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw(&server, request.as_bytes());
        assert!(
            matches!(status_of(&answer), 200 | 400 | 404),
            "{path}\n{answer}"
        );
        assert!(
            !secrets.iter().any(|s| answer.contains(s)),
            "{path}:\n{answer}"
        );
    }
}

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

/// A client sending its headers a byte a second is cut off by the header timeout.
#[test]
fn a_slow_header_client_is_cut_off() {
    let server = Server::start(&["--header-timeout-secs", "2"]);
    let addr = server.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let closed = "GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        .bytes()
        .any(|b| {
            if conn.write_all(&[b]).is_err() {
                return true;
            }
            let mut buf = [0u8; 512];
            match conn.read(&mut buf) {
                Ok(0) => true,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    false
                }
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            }
        });
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(took < Duration::from_secs(6), "cut off after {took:?}");
    assert!(
        !String::from_utf8_lossy(&answer).contains(" 200 "),
        "answered a partial request"
    );
    // And the server still serves everyone else.
    assert_eq!(server.get("/healthz").status, 200);
}

/// Two thousand connections that never send a byte do not keep a new client waiting.
#[test]
fn idle_connections_do_not_block_new_clients() {
    // This process holds the client ends; the server it starts inherits the limit.
    let limit = sahel_atlas::raise_open_files_limit();
    assert!(
        limit.is_some_and(|n| n >= 4_500),
        "open-file limit {limit:?}"
    );
    let server = Server::start(&[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let idle: Vec<TcpStream> = (0..2_000)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let started = std::time::Instant::now();
    let answer = raw(&server, request("/healthz").as_bytes());
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

/// Over the connection cap, new connections are closed at once (not queued), and served
/// again once others close.
#[test]
fn connections_beyond_the_cap_are_refused_then_served() {
    let server = Server::start(&["--max-connections", "50"]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let held: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let answer = raw(&server, request("/healthz").as_bytes());
    assert!(
        answer.is_empty(),
        "the 51st connection was served: {answer}"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        status_of(&raw(&server, request("/healthz").as_bytes())),
        200
    );
}

#[test]
fn oversized_headers_uris_and_pipelining() {
    let server = Server::start(&[]);
    let big = "a".repeat(20_000);
    let answer = raw(
        &server,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status_of(&answer), 431, "{answer}");
    assert!(answer.contains("headers-too-large"), "{answer}");
    // Our limit on query strings, as problem+json; hyper's on whole URIs.
    let long = format!("/api/events?type={}", "Battles,".repeat(1_200));
    let answer = raw(&server, request(&long).as_bytes());
    assert_eq!(status_of(&answer), 414, "{answer}");
    assert!(answer.contains("application/problem+json") && answer.contains("uri-too-long"));
    let huge = format!("/api/events?type={}", "x".repeat(40_000));
    assert_eq!(status_of(&raw(&server, request(&huge).as_bytes())), 414);
    // Pipelining: three requests in one write, three answers in order.
    let three = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
                 GET /api/events?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n\
                 GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw(&server, three.as_bytes());
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{answer}");
}

/// Expensive requests past `--max-expensive` running and `--expensive-queue` waiting are
/// shed: 503 problem+json with `Retry-After`, while cheap requests are served alongside and
/// the shed request succeeds when retried alone. (Issue 11: a loop of scans must not make
/// every client wait.)
#[test]
fn expensive_requests_past_the_limit_are_shed_with_retry_after() {
    let file = synthetic_events("shed", 60_000, 5);
    let server = Server::start(&[
        "--events",
        path_str(&file),
        "--max-expensive",
        "1",
        "--expensive-queue",
        "0",
    ]);
    let expensive = "/api/stats?group_by=month&type=Battles";
    assert_eq!(server.get(expensive).status, 200);
    let mut shed = None;
    // Sixteen at once, each a scan of 60,000 events: with one turn and no queue, some are
    // shed. (Up to ten rounds, in case the scheduler ran them one after the other.)
    for _ in 0..10 {
        let replies: Vec<Reply> = std::thread::scope(|s| {
            let storm: Vec<_> = (0..16).map(|_| s.spawn(|| server.get(expensive))).collect();
            let cheap = server.get("/api/places?q=gao");
            assert_eq!(cheap.status, 200, "cheap requests are not shed");
            storm.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for r in &replies {
            assert!(
                r.status == 200 || r.status == 503,
                "{}: {}",
                r.status,
                r.body
            );
        }
        shed = replies.into_iter().find(|r| r.status == 503);
        if shed.is_some() {
            break;
        }
    }
    let shed = shed.expect("sixteen simultaneous scans with one turn: some are shed");
    assert_eq!(shed.content_type, "application/problem+json");
    assert_eq!(shed.header("retry-after"), Some("1"));
    let body = shed.json();
    assert_eq!(body["type"], "urn:sahel-atlas:problem:overloaded");
    assert_eq!(body["status"], 503);
    assert_eq!(
        server.get(expensive).status,
        200,
        "served again once the storm passed"
    );
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("route=\"api_stats\",status=\"503\""),
        "shed requests are counted"
    );
}
