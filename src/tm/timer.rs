//! tm's timer thread: one heap of (when, transaction id). When an entry
//! comes due, the transaction's `tick` does everything due for it
//! (retransmissions, timeouts, Timer G, release) and says when to look
//! again. Stale entries cost one lookup.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::Tm;

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
    pub fn schedule(&self, id: u64, when: Instant) {
        let (lock, cv) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        q.heap.push(Reverse((when, id)));
        cv.notify_one();
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
                let now = Instant::now();
                match q.heap.peek() {
                    Some(Reverse((when, _))) if *when <= now => {
                        let Some(Reverse((_, id))) = q.heap.pop() else {
                            continue;
                        };
                        break id;
                    }
                    Some(Reverse((when, _))) => {
                        let wait = *when - now;
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
        if let Some(next) = tm.tick(&txn, Instant::now()) {
            tm.timer.schedule(due, next);
        }
    }
}
