//! The HTTP face of scimd: a hyper server, per-provider bearer authentication,
//! routing to the SCIM endpoints, body limits and content types, and SCIM error
//! responses. Handlers translate HTTP to calls on pure `scim` code and the store.

mod auth;
mod body;
mod bulk;
mod cursor;
mod discovery;
mod list;
mod ratelimit;
mod render;
mod resources;
pub mod response;
mod router;
mod search;
mod server;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use server::{Listener, serve};

use crate::config::{ProviderConfig, ServerConfig};
use crate::store::Store;
use ratelimit::RateLimiter;

/// Everything a request handler needs, shared by all connections.
pub struct App {
    /// The state store.
    pub store: Store,
    /// The providers currently served; swapped whole on reload.
    providers: RwLock<Arc<BTreeMap<String, Arc<ProviderConfig>>>>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Whether the listener speaks TLS (for the scheme of `meta.location`).
    pub tls: bool,
    /// How long one request may take before it is answered with 503.
    pub request_timeout: std::time::Duration,
    /// Most connections served at once; further ones wait in the accept queue.
    pub max_connections: usize,
    /// The providers' request rate limits.
    rate_limits: RateLimiter,
}

impl App {
    /// A new application state for the `[server]` settings and providers given.
    pub fn new(
        store: Store,
        server: &ServerConfig,
        providers: &BTreeMap<String, ProviderConfig>,
    ) -> App {
        let app = App {
            store,
            providers: RwLock::new(Arc::default()),
            max_body_bytes: server.max_body_bytes,
            tls: server.tls.is_some(),
            request_timeout: server.request_timeout,
            max_connections: server.max_connections,
            rate_limits: RateLimiter::default(),
        };
        app.set_providers(providers);
        app
    }

    /// Replaces the served providers (hot reload); in-flight requests keep the old set.
    pub fn set_providers(&self, providers: &BTreeMap<String, ProviderConfig>) {
        let map = providers
            .iter()
            .map(|(k, v)| (k.clone(), Arc::new(v.clone())))
            .collect();
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
        self.rate_limits.retain(providers);
    }

    /// The provider called `name`, if it is configured and enabled.
    pub fn provider(&self, name: &str) -> Option<Arc<ProviderConfig>> {
        let map = self
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        map.get(name).filter(|p| p.enabled).cloned()
    }
}

/// Shorthand for the registry used by every handler.
fn reg() -> &'static crate::scim::Registry {
    crate::scim::registry()
}

/// Shared `Arc` handle.
pub type SharedApp = Arc<App>;
