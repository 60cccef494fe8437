//! Load shedding: expensive requests (scans of the events under a filter, coverage, stats,
//! uncached filtered tiles) run under a concurrency limit of their own, so a loop of them
//! cannot starve the cheap ones (cached tiles, lookups) of the CPU. A few more may wait,
//! briefly, for a turn; beyond that the answer is 503 with `Retry-After`, at once, instead
//! of a queue that grows until every client times out.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::problem::{Problem, ProblemKind, RETRY_AFTER_SECS};

/// How many expensive requests run at once, and how many may wait for a turn
/// (`serve --max-expensive`, `--expensive-queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShedLimits {
    /// Expensive requests running at once.
    pub running: usize,
    /// Expensive requests that may wait for a turn.
    pub waiting: usize,
    /// The longest a request waits for a turn before it is shed.
    pub max_wait: Duration,
}

impl Default for ShedLimits {
    /// One expensive request per core, four more per core waiting up to a second.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        ShedLimits {
            running: cores,
            waiting: 4 * cores,
            max_wait: Duration::from_secs(1),
        }
    }
}

#[derive(Default)]
struct Counts {
    running: usize,
    waiting: usize,
}

/// A counting semaphore with a bounded, time-limited queue.
pub struct Gate {
    limits: ShedLimits,
    counts: Mutex<Counts>,
    turn: Condvar,
}

/// A turn to run an expensive request; the next waiting one goes when it is dropped.
pub struct Permit<'a>(&'a Gate);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.lock().running -= 1;
        self.0.turn.notify_one();
    }
}

impl Gate {
    pub fn new(limits: ShedLimits) -> Gate {
        Gate {
            limits: ShedLimits {
                running: limits.running.max(1),
                ..limits
            },
            counts: Mutex::default(),
            turn: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A turn now, or after waiting behind at most `waiting` others for at most `max_wait`;
    /// else a 503 problem. Blocks the calling (blocking-pool) thread while it waits.
    pub fn enter(&self) -> Result<Permit<'_>, Problem> {
        let mut counts = self.lock();
        if counts.running < self.limits.running {
            counts.running += 1;
            return Ok(Permit(self));
        }
        if counts.waiting >= self.limits.waiting {
            return Err(shed("the queue for expensive requests is full"));
        }
        counts.waiting += 1;
        let deadline = Instant::now() + self.limits.max_wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                counts.waiting -= 1;
                return Err(shed("no turn came for this expensive request in time"));
            }
            counts = self
                .turn
                .wait_timeout(counts, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if counts.running < self.limits.running {
                counts.waiting -= 1;
                counts.running += 1;
                return Ok(Permit(self));
            }
        }
    }
}

fn shed(why: &str) -> Problem {
    Problem::new(
        ProblemKind::Overloaded,
        format!(
            "the server is busy with other expensive requests ({why}); retry in \
             {RETRY_AFTER_SECS} s, or narrow the request (a filter, a smaller box or radius)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(running: usize, waiting: usize, wait_ms: u64) -> Gate {
        Gate::new(ShedLimits {
            running,
            waiting,
            max_wait: Duration::from_millis(wait_ms),
        })
    }

    #[test]
    fn past_the_limit_and_the_queue_requests_are_shed() {
        let g = gate(2, 0, 1000);
        let (a, b) = (g.enter().unwrap(), g.enter().unwrap());
        let err = g.enter().err().expect("a third is shed");
        assert_eq!(err.kind, ProblemKind::Overloaded);
        drop(a);
        let c = g.enter().expect("a turn freed by the first");
        drop((b, c));
        assert_eq!(g.lock().running, 0);
    }

    #[test]
    fn a_waiting_request_gets_the_next_turn_or_gives_up() {
        let g = gate(1, 1, 2000);
        std::thread::scope(|s| {
            let first = g.enter().unwrap();
            let waiter = s.spawn(|| g.enter().map(|_| ()));
            // The queue holds one: a second waiter is refused at once.
            while g.lock().waiting == 0 {
                std::thread::yield_now();
            }
            assert!(g.enter().is_err());
            drop(first);
            assert!(waiter.join().unwrap().is_ok());
        });
        let g = gate(1, 1, 50);
        let _held = g.enter().unwrap();
        let t = Instant::now();
        assert!(g.enter().is_err(), "shed after max_wait");
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert_eq!(g.lock().waiting, 0);
    }
}
