//! In-process HTTP clients for the real router (no server, no port): `Browser` keeps a session
//! cookie like a browser tab, `api_json` speaks the JSON API with a bearer token.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::TestDb;

/// The password every test agent signs in with.
pub const PASSWORD: &str = "correct horse battery";

/// The production router over the test database, configured from the environment.
pub fn test_router(db: &TestDb) -> axum::Router {
    let mut config = frontdesk::config::Config::from_env().unwrap();
    config.db.url = Some(db.url.clone());
    let state = frontdesk::web::AppState::new(db.pool.clone(), std::sync::Arc::new(config));
    frontdesk::web::router(state)
}

/// Creates an agent with a real argon2 password ([`PASSWORD`]).
pub async fn agent(db: &TestDb, email: &str, name: &str, role: frontdesk::auth::Role) -> i64 {
    let hash = frontdesk::auth::hash_password(PASSWORD).unwrap();
    frontdesk::auth::create_agent(&db.pool, email, name, role, &hash)
        .await
        .unwrap()
}

/// An HTTP client for the router that keeps the session cookie, like a browser tab.
pub struct Browser {
    pub router: axum::Router,
    pub cookie: Option<String>,
}

/// A response as a test reads it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

/// `k=v&…`, percent-encoded as a browser encodes a form.
pub fn form_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    /// A signed-out tab.
    pub fn new(db: &TestDb) -> Browser {
        Browser {
            router: test_router(db),
            cookie: None,
        }
    }

    /// A tab signed in as the agent `email` (whose password is [`PASSWORD`]).
    pub async fn signed_in(db: &TestDb, email: &str) -> Browser {
        let mut b = Browser::new(db);
        b.login(email, PASSWORD).await;
        b
    }

    pub async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let mut req = req;
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        if let Some(set) = resp.headers().get(header::SET_COOKIE) {
            let v = set.to_str().unwrap();
            self.cookie = Some(v.split(';').next().unwrap().to_string());
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let body = String::from_utf8_lossy(
            &axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .unwrap(),
        )
        .into_owned();
        Page {
            status,
            location,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path), Body::empty()).await
    }

    /// A same-origin form post, as a browser sends it.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin");
        self.send(req, Body::from(form_body(form))).await
    }

    /// A same-origin form post that asks for JSON, as the ticket page's script sends a field.
    pub async fn post_json(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header("sec-fetch-site", "same-origin");
        let p = self.send(req, Body::from(form_body(form))).await;
        let json = serde_json::from_str(&p.body).unwrap_or_else(|_| panic!("not JSON: {}", p.body));
        (p.status, json)
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        self.post(
            "/login",
            &[("email", email), ("password", password), ("next", "/inbox")],
        )
        .await
    }
}

/// One JSON API call with a bearer token; a body that is not JSON reads as `Null`.
pub async fn api_json(
    db: &TestDb,
    method: &str,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = test_router(db).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
