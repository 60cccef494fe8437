//! `sahel-atlas healthcheck`, the container's HEALTHCHECK without curl or a shell: 0 for a
//! server that answers /healthz with 200, non-zero for none, for another status, and for
//! one that never answers (within its timeout).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

fn healthcheck(addr: &str) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = Command::new(common::bin())
        .args(["healthcheck", "--addr", addr, "--timeout-secs", "1"])
        .output()
        .expect("run healthcheck");
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.success(), said, started.elapsed())
}

#[test]
fn healthcheck_says_whether_the_server_is_healthy() {
    let server = common::Server::start(&[]);
    let addr = server.base.trim_start_matches("http://");
    let (ok, said, _) = healthcheck(addr);
    assert!(ok, "{said}");

    // Nothing listening.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = free.local_addr().unwrap().to_string();
    drop(free);
    let (ok, said, _) = healthcheck(&closed);
    assert!(!ok && said.contains("/healthz"), "{said}");

    // Another status.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = listener.local_addr().unwrap().to_string();
    let answering = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
    });
    let (ok, said, _) = healthcheck(&other);
    answering.join().unwrap();
    assert!(!ok && said.contains("503"), "{said}");

    // A server that accepts and never answers: refused within the timeout, not hung.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (ok, said, took) = healthcheck(&addr);
    assert!(!ok, "{said}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(silent);

    // One that trickles a byte every 200 ms and never ends its line: the deadline is for
    // the whole answer, not for each read.
    let trickle = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = trickle.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = trickle.accept().unwrap();
        for _ in 0..50 {
            if s.write_all(b"H").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (ok, said, took) = healthcheck(&addr);
    assert!(!ok, "{said}");
    assert!(took < Duration::from_secs(3), "took {took:?}: {said}");
}
