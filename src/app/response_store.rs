//! Recent translated Responses, kept so that a client chaining with
//! `previous_response_id` gets the earlier turns when Copilot never saw them (the request
//! went to `/chat/completions`). Bounded by count, age and bytes; per instance (DESIGN §7).

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The whole store never holds more than this many bytes of JSON.
const MAX_BYTES: usize = 256 * 1024 * 1024;

pub struct ResponseStore {
    max_entries: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Ids in insertion order, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

struct Entry {
    /// Every input item of the conversation so far, then this response's output items.
    items: Vec<Value>,
    bytes: usize,
    at: Instant,
}

impl ResponseStore {
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        ResponseStore {
            max_entries,
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Remembers a response: the conversation's input items and the output it produced.
    pub fn put(&self, id: &str, mut input: Vec<Value>, output: Vec<Value>) {
        if self.max_entries == 0 {
            return;
        }
        input.extend(output);
        let bytes = input.iter().map(|v| v.to_string().len()).sum();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.entries.remove(id) {
            inner.bytes -= old.bytes;
            inner.order.retain(|o| o != id);
        }
        while !inner.order.is_empty()
            && (inner.order.len() >= self.max_entries || inner.bytes + bytes > MAX_BYTES)
        {
            inner.evict_oldest();
        }
        inner.bytes += bytes;
        inner.order.push_back(id.to_string());
        inner.entries.insert(
            id.to_string(),
            Entry {
                items: input,
                bytes,
                at: Instant::now(),
            },
        );
    }

    /// The conversation up to and including response `id`, if it is still held.
    pub fn get(&self, id: &str) -> Option<Vec<Value>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while inner.order.front().is_some_and(|o| {
            inner
                .entries
                .get(o)
                .is_some_and(|e| e.at.elapsed() > self.ttl)
        }) {
            inner.evict_oldest();
        }
        inner.entries.get(id).map(|e| e.items.clone())
    }
}

impl Inner {
    fn evict_oldest(&mut self) {
        if let Some(id) = self.order.pop_front() {
            if let Some(e) = self.entries.remove(&id) {
                self.bytes -= e.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chains_evicts_oldest_and_expires() {
        let store = ResponseStore::new(2, Duration::from_secs(3600));
        store.put("resp_1", vec![json!("a")], vec![json!("b")]);
        assert_eq!(store.get("resp_1").unwrap(), [json!("a"), json!("b")]);
        store.put("resp_2", vec![], vec![]);
        store.put("resp_3", vec![], vec![]);
        assert_eq!(
            store.get("resp_1"),
            None,
            "the oldest of three evicted by count (limit 2)"
        );
        assert_eq!(store.get("nope"), None);
        assert!(store.get("resp_3").is_some());
        let short = ResponseStore::new(10, Duration::from_millis(1));
        short.put("resp_x", vec![json!(1)], vec![]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.get("resp_x"), None, "expired");
    }
}
