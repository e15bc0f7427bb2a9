//! tm's timer thread: one heap of (when, transaction id). When an entry
//! comes due, the transaction's `tick` does everything due for it
//! (retransmissions, timeouts, Timer G, release) and says when to look
//! again. Stale entries cost one lookup.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::Tm;

/// The timer's resolution: deadlines closer than this are handled in one
/// wake-up (retransmission intervals start at T1, 500 ms).
const TICK: Duration = Duration::from_millis(10);

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    stop: bool,
}

pub struct Timer {
    shared: Arc<(Mutex<Queue>, Condvar)>,
}

impl Timer {
    pub fn start(tm: Weak<Tm>) -> Timer {
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("kemid-tm-timer".into())
            .spawn(move || run(tm, thread_shared));
        if let Err(e) = spawned {
            crate::log::error("tm", format_args!("cannot start the timer thread: {e}"));
        }
        Timer { shared }
    }

    /// Looks at transaction `id` at `when` (or earlier if already asked).
    /// The timer thread is woken only when this deadline comes before
    /// every one it already waits for: most calls are a heap push.
    pub fn schedule(&self, id: u64, when: Instant) {
        let (lock, cv) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = q.heap.peek().map(|Reverse((w, _))| *w);
        q.heap.push(Reverse((when, id)));
        if earliest.is_none_or(|e| when < e) {
            cv.notify_one();
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        cv.notify_all();
    }
}

fn run(tm: Weak<Tm>, shared: Arc<(Mutex<Queue>, Condvar)>) {
    let (lock, cv) = &*shared;
    loop {
        let due = {
            let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if q.stop {
                    return;
                }
                // Deadlines within one tick are handled together, so the
                // thread wakes per tick, not per deadline.
                let now = Instant::now() + TICK;
                match q.heap.peek() {
                    Some(Reverse((when, _))) if *when <= now => {
                        let Some(Reverse((_, id))) = q.heap.pop() else {
                            continue;
                        };
                        break id;
                    }
                    Some(Reverse((when, _))) => {
                        let wait = (*when - now).max(TICK);
                        q = cv
                            .wait_timeout(q, wait)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|p| p.into_inner().0);
                    }
                    None => {
                        q = cv
                            .wait_timeout(q, Duration::from_secs(1))
                            .map(|(g, _)| g)
                            .unwrap_or_else(|p| p.into_inner().0);
                    }
                }
            }
        };
        let Some(tm) = tm.upgrade() else { return };
        let Some(txn) = tm.by_id(due) else { continue };
        // What is due within this tick is done now (see TICK): otherwise an
        // entry taken early would be scheduled again at once.
        if let Some(next) = tm.tick(&txn, Instant::now() + TICK) {
            tm.timer.schedule(due, next);
        }
    }
}
