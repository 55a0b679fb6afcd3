//! The HTTP side of webhooks: the signature ([`signature`]), the client ([`Deliverer`]: no
//! redirects, a timeout, and a DNS resolver that refuses private and local addresses), one
//! worker step ([`deliver_due`]) and the worker loop ([`run`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Claimed};
use super::url::{Scheme, address_allowed, check_url};
use crate::config::WebhookConfig;

/// Deliveries handled per pass before the worker looks at shutdown again.
const MAX_PER_PASS: usize = 100;

/// The `Frontdesk-Signature` header value for `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with secret>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Resolves names for one scheme and refuses the lot when any address is not allowed
/// ([`address_allowed`]), so a name that points inside the network is never called.
struct GuardedResolver {
    scheme: Scheme,
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (scheme, allow_private) = (self.scheme, self.allow_private);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if let Some(bad) = addrs
                .iter()
                .find(|a| !address_allowed(a.ip(), scheme, allow_private))
            {
                return Err(format!(
                    "{host} resolves to {}, a private or local address (refused)",
                    bad.ip()
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP clients deliveries go through: one for `http://` (loopback only) and one for
/// `https://`, both without redirects, with [`WebhookConfig::timeout`] and a guarded resolver.
#[derive(Clone)]
pub struct Deliverer {
    http: reqwest::Client,
    https: reqwest::Client,
    config: WebhookConfig,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// Any other answer (status) or no answer (`None`), and why.
    Failed(Option<u16>, String),
}

impl Deliverer {
    /// Builds the clients. Errors only when the TLS setup fails.
    pub fn new(config: &WebhookConfig) -> anyhow::Result<Deliverer> {
        let client = |scheme| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(config.timeout)
                .connect_timeout(config.timeout)
                .user_agent(concat!("Frontdesk-Webhooks/", env!("CARGO_PKG_VERSION")))
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver {
                    scheme,
                    allow_private: config.allow_private,
                }))
                .build()
        };
        Ok(Deliverer {
            http: client(Scheme::Http)?,
            https: client(Scheme::Https)?,
            config: config.clone(),
        })
    }

    /// The settings these clients were built with.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// One attempt: checks the URL again (policy, literal addresses), POSTs the body with
    /// `Frontdesk-Event-Id`, `Frontdesk-Event` and (with a secret) `Frontdesk-Signature`.
    pub async fn attempt(&self, claimed: &Claimed) -> Attempt {
        let url = match check_url(&claimed.url, self.config.allow_private) {
            Ok(u) => u,
            Err(e) => return Attempt::Failed(None, format!("refused URL: {e}")),
        };
        let client = if url.scheme() == "https" {
            &self.https
        } else {
            &self.http
        };
        let body = claimed.body();
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .header("Frontdesk-Event-Id", &claimed.event_id)
            .header("Frontdesk-Event", &claimed.event);
        if let Some(secret) = claimed.secret.as_deref() {
            let t = time::OffsetDateTime::now_utc().unix_timestamp();
            req = req.header("Frontdesk-Signature", signature(secret, t, &body));
        }
        match req.body(body).send().await {
            Ok(resp) if resp.status().is_success() => Attempt::Delivered(resp.status().as_u16()),
            Ok(resp) if resp.status().is_redirection() => Attempt::Failed(
                Some(resp.status().as_u16()),
                format!("HTTP {} (redirects are not followed)", resp.status()),
            ),
            Ok(resp) => Attempt::Failed(
                Some(resp.status().as_u16()),
                format!("HTTP {}", resp.status()),
            ),
            Err(e) => Attempt::Failed(None, error_chain(&e)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// One worker step: claims and attempts due deliveries one at a time (each exactly once
/// across nodes), recording each outcome; returns how many were attempted (at most 100).
pub async fn deliver_due(pool: &PgPool, deliverer: &Deliverer) -> anyhow::Result<usize> {
    let cfg = deliverer.config();
    // Longer than any attempt can take, so a claim never runs out while it is being tried.
    let lease = cfg.timeout * 2 + Duration::from_secs(30);
    let mut attempted = 0;
    while attempted < MAX_PER_PASS {
        let Some(claimed) = queue::claim_next(pool, lease).await? else {
            break;
        };
        attempted += 1;
        match deliverer.attempt(&claimed).await {
            Attempt::Delivered(status) => {
                queue::delivered(pool, &claimed, status).await?;
                tracing::info!(
                    webhook.delivery = claimed.webhook_delivery_id,
                    event = %claimed.event,
                    attempts = claimed.attempts,
                    status,
                    "webhook delivered"
                );
            }
            Attempt::Failed(status, error) => {
                let outcome = queue::failed(
                    pool,
                    &claimed,
                    status,
                    &error,
                    cfg.retry_base,
                    cfg.retry_window,
                )
                .await?;
                tracing::warn!(
                    webhook.delivery = claimed.webhook_delivery_id,
                    event = %claimed.event,
                    attempts = claimed.attempts,
                    given_up = outcome.given_up,
                    error = %error,
                    "webhook delivery failed"
                );
            }
        }
    }
    Ok(attempted)
}

/// The worker: delivers due webhooks until `shutdown`, looking every second (or every
/// [`WebhookConfig::retry_base`] when that is shorter). It polls rather than LISTENs, so it
/// holds no pool connection while idle (a listener keeps one for good). Database errors are
/// logged and retried; never returns an error.
pub async fn run(pool: PgPool, config: WebhookConfig, shutdown: CancellationToken) {
    let deliverer = match Deliverer::new(&config) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "webhook client setup failed; no webhooks will be delivered");
            return shutdown.cancelled().await;
        }
    };
    let tick = config
        .retry_base
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    while !shutdown.is_cancelled() {
        match deliver_due(&pool, &deliverer).await {
            Ok(n) if n >= MAX_PER_PASS => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "webhook pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_t_dot_body() {
        // Computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec
        let s = signature("whsec", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "t=1700000000,v1=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
        );
        assert_ne!(s, signature("other", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(s, signature("whsec", 1_700_000_001, br#"{"a":1}"#));
    }
}
