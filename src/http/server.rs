//! Connections: the accept loop, with the limits a public server needs that warp's own
//! loop does not set. A client gets `HEADER_TIMEOUT` to send each request's headers (the
//! clock starts while the connection waits for a request, so it also ends idle keep-alive
//! connections); past `max_connections` open connections, new ones are closed at once
//! rather than queued. Headers over [`MAX_HEADER_BYTES`] and query strings over their limit
//! get a 431 or 414 problem from the router; past [`HARD_HEADER_BYTES`] (and URIs past
//! 64 KiB) hyper drops the connection, having read no further.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

/// Limits on connections (`serve --header-timeout-secs`, `--max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, and to start the next one on a kept-alive connection.
    pub header_timeout: Duration,
    /// Open connections beyond this are closed at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// Request headers may take at most this many bytes (names and values): beyond, 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Beyond this the connection is dropped unanswered (reading on would be the attack).
pub const HARD_HEADER_BYTES: usize = 64 * 1024;

/// The runtime the server runs on. Handlers run on its blocking pool, bounded so that ten
/// thousand connections cannot mean ten thousand threads: expensive requests hold at most
/// their running and waiting turns of it (see `shed`), and the rest of it serves everything
/// cheap, a few microseconds each, in arrival order.
pub fn runtime(shed: &super::shed::ShedLimits) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads((shed.running + shed.waiting + 32).max(64))
        .build()
}

/// Serves `service` on every connection `listener` accepts until `shutdown` completes, then
/// lets open requests finish.
pub async fn run<S>(
    service: S,
    limits: ConnectionLimits,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) where
    S: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Not `pipeline_flush`: with it hyper buffers a response body without bound, so a
        // download to a slow client would sit whole in memory (bench/download.sh found it).
        .max_header_size(HARD_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                limit = limits.max_connections,
                "connection refused: too many open"
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Clients that hang up, time out or send garbage: theirs, not ours.
                tracing::debug!("connection ended: {e}");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
}

/// Raises this process's open-file limit to the hard limit (a soft limit of 1,024 would
/// cap connections far below `max_connections`); returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        // rlim_t is not u64 on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}
