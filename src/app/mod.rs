//! The state every handler shares: configuration, the upstream (client and token), the
//! model catalog, the usage cache, the traffic state and the store of translated responses
//! (`response_store.rs`). One value, passed by reference; no globals.

mod response_store;

use crate::config::Config;
use crate::http::ApiError;
use crate::metrics::Metrics;
use crate::relay::Shutdown;
use crate::traffic::Traffic;
use crate::upstream::catalog::{self, Catalog, Model};
use crate::upstream::{Upstream, ok_or_forward};
use crate::{info, warn};
use response_store::ResponseStore;
use std::sync::{Mutex, TryLockError};
use std::time::{Duration, Instant};

/// How often the catalog is fetched again in the background.
const CATALOG_REFRESH: Duration = Duration::from_secs(30 * 60);
/// On-demand refreshes (an unknown model) happen at most this often.
const CATALOG_MIN_AGE: Duration = Duration::from_secs(60);
/// `GET /usage` answers from a cache this young, to spare GitHub's API.
const USAGE_TTL: Duration = Duration::from_secs(30);

pub struct App {
    pub config: Config,
    pub upstream: Upstream,
    pub catalog: Catalog,
    pub metrics: Metrics,
    /// Translated responses, for `previous_response_id`.
    pub responses: ResponseStore,
    /// Rate limiters and the approval queue (`traffic/`, run by `features::admission`).
    pub traffic: Traffic,
    /// Ends every open stream with its terminal error event when triggered.
    pub shutdown: Shutdown,
    /// Set at the first SIGTERM/SIGINT: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
    usage: Mutex<Option<(Instant, Vec<u8>)>>,
    /// Held by the on-demand catalog refresh in flight (`refresh_catalog_if_stale`).
    catalog_flight: Mutex<()>,
}

impl App {
    pub fn new(config: Config, upstream: Upstream) -> App {
        let store = config.response_store;
        let traffic = Traffic::new(&config.traffic);
        App {
            config,
            upstream,
            catalog: Catalog::default(),
            metrics: Metrics::default(),
            responses: ResponseStore::new(store.entries, store.ttl),
            traffic,
            usage: Mutex::new(None),
            catalog_flight: Mutex::new(()),
            shutdown: Shutdown::default(),
            draining: Default::default(),
        }
    }

    /// Fetches the model list and replaces the cache.
    pub fn refresh_catalog(&self) -> Result<usize, String> {
        let reply = self
            .upstream
            .copilot("GET", "/models", None, &[])
            .map_err(|e| ApiError::from(e).to_string())?;
        self.metrics
            .usage
            .limits
            .observe_pairs(&reply.limit_headers);
        let reply = ok_or_forward(reply)
            .map_err(ApiError::from)
            .map_err(|e| format!("HTTP {}: {e}", e.status()))?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|_| "the model list is not JSON".to_string())?;
        let models = catalog::parse_list(&v);
        if models.is_empty() {
            return Err("the model list is empty".into());
        }
        let n = models.len();
        self.catalog.set(models);
        Ok(n)
    }

    /// The catalog entry for a client's model id; a miss refreshes a stale catalog once
    /// (a model may have been enabled since).
    pub fn find_model(&self, requested: &str) -> Option<Model> {
        self.catalog.find(requested).or_else(|| {
            self.refresh_catalog_if_stale();
            self.catalog.find(requested)
        })
    }

    /// Refreshes the catalog when a client names a model it lacks, unless it is fresh.
    /// One refresh at a time: a caller that finds one in flight waits for it and takes
    /// its outcome, so a burst of unknown model names (or of `/v1/models` before the
    /// catalog loads) costs one `GET /models`, not one each, and waits at most that call.
    pub fn refresh_catalog_if_stale(&self) {
        let stale = || self.catalog.age().is_none_or(|age| age > CATALOG_MIN_AGE);
        if !stale() {
            return;
        }
        let _flight = match self.catalog_flight.try_lock() {
            Ok(flight) => flight,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                drop(crate::sync::lock(&self.catalog_flight));
                return;
            }
        };
        // A refresh may have landed between the check above and taking the flight.
        if stale() {
            if let Err(e) = self.refresh_catalog() {
                warn!("model list refresh failed: {e}");
            }
        }
    }

    /// Keeps the catalog fresh until the process ends; retries sooner after a failure.
    pub fn run_catalog_refresher(&self) {
        let mut failures = 0u32;
        loop {
            let pause = if self.catalog.get().is_none() {
                Duration::from_secs(5 << failures.min(6))
            } else {
                CATALOG_REFRESH
            };
            std::thread::sleep(pause);
            match self.refresh_catalog() {
                Ok(n) => {
                    failures = 0;
                    crate::debug!("model list refreshed: {n} models");
                }
                Err(e) => {
                    failures += 1;
                    warn!("model list refresh failed: {e}");
                }
            }
        }
    }

    pub fn log_models(&self) {
        if let Some(models) = self.catalog.get() {
            info!("{} models available:", models.len());
            for m in models.iter() {
                info!("  {}", m.summary());
            }
        }
    }

    /// The quota JSON of `/copilot_internal/user`, cached for 30 s.
    pub fn usage(&self) -> Result<Vec<u8>, ApiError> {
        if let Some((at, body)) = crate::sync::lock(&self.usage).as_ref() {
            if at.elapsed() < USAGE_TTL {
                return Ok(body.clone());
            }
        }
        let reply = ok_or_forward(self.upstream.github("/copilot_internal/user")?)?;
        *crate::sync::lock(&self.usage) = Some((Instant::now(), reply.body.clone()));
        Ok(reply.body)
    }
}
