//! Handler threads that outlive their request. A thread per request is what streaming
//! needs (a fixed pool of 16 queued the 17th stream for seconds, reference/rust-stack.md
//! §6), but spawning one costs tens of microseconds per request; so a request goes to an
//! idle worker when there is one, and to a new worker otherwise. Idle workers exit after a
//! while, so the pool follows the load. The in-flight cap bounds it from above.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Job = Box<dyn FnOnce() + Send>;

/// How long a worker waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(30);

pub struct Workers {
    tx: Sender<Job>,
    rx: Arc<Mutex<Receiver<Job>>>,
    /// Workers waiting for a job that no job has been promised to yet.
    idle: Arc<AtomicUsize>,
    stack_size: usize,
    spawned: usize,
}

impl Workers {
    pub fn new(stack_size: usize) -> Workers {
        let (tx, rx) = channel();
        Workers {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
            stack_size,
            spawned: 0,
        }
    }

    /// Runs `job` on an idle worker, or on a new one. Only the accept loop calls this.
    pub fn run(&mut self, job: Job) -> std::io::Result<()> {
        if !claim(&self.idle) {
            self.spawn()?;
        }
        // A receiver lives as long as any worker, and one was just claimed or spawned.
        self.tx
            .send(job)
            .map_err(|_| std::io::Error::other("no worker left"))
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        self.spawned += 1;
        let (rx, idle) = (self.rx.clone(), self.idle.clone());
        std::thread::Builder::new()
            .name(format!("worker-{}", self.spawned))
            .stack_size(self.stack_size)
            .spawn(move || work(&rx, &idle))
            .map(drop)
    }
}

/// Takes one idle worker for a job about to be sent; false when none is idle.
fn claim(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

fn work(rx: &Mutex<Receiver<Job>>, idle: &AtomicUsize) {
    let mut promised = true; // a new worker is spawned for a job already on its way
    loop {
        if !promised {
            idle.fetch_add(1, Ordering::AcqRel);
        }
        let next = rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(IDLE_EXIT);
        match next {
            Ok(job) => {
                // A panic that escaped the handler's own guard must not kill the worker.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                promised = false;
            }
            // Exit only if no job was promised to an idle worker meanwhile; else wait on.
            Err(RecvTimeoutError::Timeout) if claim(idle) => return,
            Err(RecvTimeoutError::Timeout) => promised = true,
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn busy_workers_never_block_new_jobs_and_idle_ones_are_reused() {
        let mut workers = Workers::new(256 * 1024);
        // Three jobs that hold their worker until all three run: each needs its own thread.
        let barrier = Arc::new(Barrier::new(4));
        for _ in 0..3 {
            let b = barrier.clone();
            workers
                .run(Box::new(move || {
                    b.wait();
                }))
                .unwrap();
        }
        barrier.wait();
        assert_eq!(workers.spawned, 3);
        // Once they are idle again, later jobs reuse them.
        while workers.idle.load(Ordering::Acquire) < 3 {
            std::thread::yield_now();
        }
        let (tx, rx) = channel();
        for i in 0..10 {
            let tx = tx.clone();
            workers.run(Box::new(move || tx.send(i).unwrap())).unwrap();
            rx.recv().unwrap();
        }
        assert_eq!(workers.spawned, 3);
    }
}
