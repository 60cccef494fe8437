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
