//! The two rate limiters of `--rate-limit` and `--burst-count`/`--burst-window`, as FIFO
//! queues with a bounded wait (DESIGN.md §8).
//!
//! Both are the same rule: at most `count` admissions in any sliding window, with an
//! optional minimum spacing. The interval limiter is that rule with a count of one and a
//! window of `--rate-limit` seconds, in one global lane; the burst limiter has a lane per
//! key (`__global__`, or the resolved model id with `--burst-scope model`). In each lane
//! requests are admitted in arrival order: only the head of a lane's queue may be admitted,
//! so three requests arriving together with `--rate-limit 1 --wait` go at 0 s, 1 s and 2 s
//! (the reference wakes them all at once). A request that would wait past its deadline is
//! refused at once; a refused request never counts as an admission.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Requests that may wait in one lane; beyond it the queue answers 429.
pub const QUEUE_LIMIT: usize = 512;
/// How often a waiting request checks that its client is still there. Not on every wake:
/// each admission wakes the whole queue, and a check is a system call (a peek at the socket).
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// At most `count` admissions in any window of `window`, at least `spacing` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub count: usize,
    pub window: Duration,
    pub spacing: Duration,
}

/// Why a request was not admitted.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// Too early and not allowed to wait, the wait would pass the deadline, or the queue is
    /// full: the client may come back after this long.
    Later { retry_after: Duration, why: String },
    /// The client went away while queued.
    Gone,
}

/// What happened to an admitted request.
#[derive(Debug, PartialEq)]
pub struct Admitted {
    /// How long it queued (zero when admitted at once).
    pub waited: Duration,
    /// The admission's place on the lane's clock, for `undo`.
    pub at: Instant,
}

/// One lane: recent admissions and the requests waiting, by ticket, oldest first.
#[derive(Default)]
struct Lane {
    admitted: VecDeque<Instant>,
    queue: VecDeque<u64>,
}

impl Lane {
    /// The earliest instant at or after `now` when the next request may be admitted, were
    /// `extra` more admissions made before it at their own earliest instants.
    fn earliest(&self, rule: &Rule, now: Instant, extra: usize) -> Instant {
        let mut times: Vec<Instant> = self.admitted.iter().copied().collect();
        let mut at = now;
        for i in 0..=extra {
            let mut t = now;
            if times.len() >= rule.count {
                t = t.max(times[times.len() - rule.count] + rule.window);
            }
            if let Some(last) = times.last() {
                t = t.max(*last + rule.spacing);
            }
            at = t;
            if i < extra {
                times.push(t);
            }
        }
        at
    }

    fn admit(&mut self, rule: &Rule, at: Instant) {
        self.admitted.push_back(at);
        while self.admitted.len() > rule.count.max(1) {
            self.admitted.pop_front();
        }
    }

    /// Nothing queued and nothing admitted within the window: the lane holds no state.
    fn idle(&self, rule: &Rule, now: Instant) -> bool {
        self.queue.is_empty()
            && self
                .admitted
                .back()
                .is_none_or(|t| now.duration_since(*t) >= rule.window.max(rule.spacing))
    }
}

#[derive(Default)]
struct State {
    lanes: HashMap<String, Lane>,
    next_ticket: u64,
}

/// One limiter: its rule, and a lane per key.
pub struct Limiter {
    rule: Rule,
    state: Mutex<State>,
    changed: Condvar,
}

/// A request's place in a queue, taken out of it however the wait ends.
struct Place<'a> {
    limiter: &'a Limiter,
    key: &'a str,
    ticket: u64,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        if let Some(lane) = state.lanes.get_mut(self.key) {
            lane.queue.retain(|t| *t != self.ticket);
        }
        drop(state);
        self.limiter.changed.notify_all();
    }
}

impl Limiter {
    pub fn new(rule: Rule) -> Limiter {
        Limiter {
            rule,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a request in `key`'s lane, now or after queueing (when `wait`) until
    /// `deadline`. `gone` says whether the client has left; `on_queue` is told +1 when the
    /// request joins the queue and -1 when it leaves.
    pub fn acquire(
        &self,
        key: &str,
        wait: bool,
        deadline: Instant,
        gone: &dyn Fn() -> bool,
        on_queue: &dyn Fn(i64),
    ) -> Result<Admitted, Refusal> {
        let arrived = Instant::now();
        let ticket = {
            let mut state = self.lock();
            let now = Instant::now();
            if state.lanes.len() > 64 {
                let rule = self.rule;
                state.lanes.retain(|_, lane| !lane.idle(&rule, now));
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let lane = state.lanes.entry(key.to_string()).or_default();
            let ahead = lane.queue.len();
            let at = lane.earliest(&self.rule, now, ahead);
            if ahead == 0 && at <= now {
                lane.admit(&self.rule, now);
                return Ok(Admitted {
                    waited: Duration::ZERO,
                    at: now,
                });
            }
            let wait_for = at.duration_since(now);
            if !wait {
                return Err(Refusal::Later {
                    retry_after: wait_for,
                    why: "too early".into(),
                });
            }
            if ahead >= QUEUE_LIMIT {
                return Err(Refusal::Later {
                    retry_after: wait_for,
                    why: format!("{QUEUE_LIMIT} requests are already waiting"),
                });
            }
            let budget = deadline.saturating_duration_since(now);
            if wait_for > budget {
                return Err(Refusal::Later {
                    retry_after: wait_for - budget,
                    why: format!(
                        "the wait of {:.1} s would pass --max-wait",
                        wait_for.as_secs_f64()
                    ),
                });
            }
            lane.queue.push_back(ticket);
            ticket
        };
        on_queue(1);
        let place = Place {
            limiter: self,
            key,
            ticket,
        };
        let result = self.wait_turn(&place, deadline, gone);
        drop(place);
        on_queue(-1);
        result.map(|at| Admitted {
            waited: arrived.elapsed(),
            at,
        })
    }

    /// Waits until this request heads its lane and the rule lets it in.
    fn wait_turn(
        &self,
        place: &Place,
        deadline: Instant,
        gone: &dyn Fn() -> bool,
    ) -> Result<Instant, Refusal> {
        let mut probed: Option<Instant> = None;
        loop {
            if probed.is_none_or(|t| t.elapsed() >= PROBE_EVERY) {
                if gone() {
                    return Err(Refusal::Gone);
                }
                probed = Some(Instant::now());
            }
            let mut state = self.lock();
            let now = Instant::now();
            let lane = state.lanes.entry(place.key.to_string()).or_default();
            let head = lane.queue.front() == Some(&place.ticket);
            let at = lane.earliest(&self.rule, now, 0);
            if head && at <= now {
                lane.admit(&self.rule, now);
                lane.queue.pop_front();
                drop(state);
                self.changed.notify_all();
                return Ok(now);
            }
            if now >= deadline {
                return Err(Refusal::Later {
                    retry_after: at.saturating_duration_since(now),
                    why: "--max-wait passed while queued".into(),
                });
            }
            let mut pause = PROBE_EVERY.min(deadline - now);
            if head {
                pause = pause.min(at - now);
            }
            let _ = self
                .changed
                .wait_timeout(state, pause)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Limiter {
    /// Takes an admission back: a later stage refused the request, and a refused request
    /// must not count. The next in line may then go sooner.
    pub fn undo(&self, key: &str, admitted: &Admitted) {
        let mut state = self.lock();
        if let Some(lane) = state.lanes.get_mut(key) {
            if let Some(i) = lane.admitted.iter().rposition(|t| *t == admitted.at) {
                lane.admitted.remove(i);
            }
        }
        drop(state);
        self.changed.notify_all();
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rule(count: usize, window_ms: u64, spacing_ms: u64) -> Rule {
        Rule {
            count,
            window: Duration::from_millis(window_ms),
            spacing: Duration::from_millis(spacing_ms),
        }
    }

    #[test]
    fn earliest_follows_window_and_spacing() {
        let r = rule(2, 1000, 100);
        let t0 = Instant::now();
        let mut lane = Lane::default();
        assert_eq!(lane.earliest(&r, t0, 0), t0);
        lane.admit(&r, t0);
        assert_eq!(lane.earliest(&r, t0, 0), t0 + Duration::from_millis(100));
        lane.admit(&r, t0 + Duration::from_millis(100));
        // Full: the oldest leaves the window at 1 s.
        assert_eq!(lane.earliest(&r, t0, 0), t0 + Duration::from_millis(1000));
        // Two more ahead: 1.0 s, 1.1 s, then the third waits for the window again.
        assert_eq!(lane.earliest(&r, t0, 2), t0 + Duration::from_millis(2000));
    }

    fn never_gone() -> bool {
        false
    }

    #[test]
    fn no_wait_refuses_without_moving_the_clock() {
        let l = Limiter::new(rule(1, 500, 0));
        let far = Instant::now() + Duration::from_secs(5);
        assert!(l.acquire("", false, far, &never_gone, &|_| {}).is_ok());
        for _ in 0..3 {
            let Err(Refusal::Later { retry_after, .. }) =
                l.acquire("", false, far, &never_gone, &|_| {})
            else {
                panic!("admitted too early")
            };
            assert!(retry_after <= Duration::from_millis(500));
        }
        std::thread::sleep(Duration::from_millis(520));
        assert!(l.acquire("", false, far, &never_gone, &|_| {}).is_ok());
    }

    #[test]
    fn waiters_go_in_arrival_order_one_interval_apart() {
        let l = Arc::new(Limiter::new(rule(1, 150, 0)));
        let start = Instant::now();
        let far = start + Duration::from_secs(5);
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                std::thread::sleep(Duration::from_millis(10));
                let (l, admitted) = (l.clone(), admitted.clone());
                std::thread::spawn(move || {
                    l.acquire("", true, far, &never_gone, &|_| {}).unwrap();
                    admitted.lock().unwrap().push((i, start.elapsed()));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let admitted = admitted.lock().unwrap();
        let order: Vec<i32> = admitted.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, [0, 1, 2, 3]);
        for pair in admitted.windows(2) {
            assert!(
                pair[1].1 - pair[0].1 >= Duration::from_millis(140),
                "{admitted:?}"
            );
        }
    }

    #[test]
    fn a_wait_past_the_deadline_is_refused_at_once() {
        let l = Limiter::new(rule(1, 10_000, 0));
        let soon = Instant::now() + Duration::from_millis(500);
        l.acquire("", true, soon, &never_gone, &|_| {}).unwrap();
        let t = Instant::now();
        let Err(Refusal::Later { retry_after, .. }) =
            l.acquire("", true, soon, &never_gone, &|_| {})
        else {
            panic!("admitted")
        };
        assert!(t.elapsed() < Duration::from_millis(100));
        assert!(retry_after > Duration::from_secs(9));
        assert_eq!(whole_seconds(retry_after), 10);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
    }

    #[test]
    fn a_gone_client_leaves_the_queue_and_the_next_moves_up() {
        let l = Arc::new(Limiter::new(rule(1, 300, 0)));
        let far = Instant::now() + Duration::from_secs(5);
        l.acquire("", true, far, &never_gone, &|_| {}).unwrap();
        let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let quitter = {
            let (l, gone) = (l.clone(), gone.clone());
            std::thread::spawn(move || {
                let probe = move || gone.load(std::sync::atomic::Ordering::Relaxed);
                l.acquire("", true, far, &probe, &|_| {})
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        gone.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(quitter.join().unwrap(), Err(Refusal::Gone));
        // The quitter's place is free: the next waits one interval from the first only.
        let t = Instant::now();
        l.acquire("", true, far, &never_gone, &|_| {}).unwrap();
        assert!(t.elapsed() < Duration::from_millis(400));
    }

    #[test]
    fn an_undone_admission_does_not_count() {
        let l = Limiter::new(rule(1, 10_000, 0));
        let far = Instant::now() + Duration::from_secs(1);
        let a = l.acquire("", false, far, &never_gone, &|_| {}).unwrap();
        l.undo("", &a);
        assert!(l.acquire("", false, far, &never_gone, &|_| {}).is_ok());
    }

    #[test]
    fn lanes_are_independent() {
        let l = Limiter::new(rule(1, 10_000, 0));
        let far = Instant::now() + Duration::from_secs(1);
        assert!(l.acquire("a", false, far, &never_gone, &|_| {}).is_ok());
        assert!(l.acquire("b", false, far, &never_gone, &|_| {}).is_ok());
        assert!(l.acquire("a", false, far, &never_gone, &|_| {}).is_err());
    }
}
