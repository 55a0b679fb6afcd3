//! The OpenAPI document (`GET /api/v1/openapi.json`): it lists exactly the API's routes, the
//! router serves every route it lists (and no other method on those paths), and real answers
//! of the API validate against its schemas.

use std::collections::{BTreeSet, HashSet};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

/// Every route of `/api/v1`, written out by hand: a route added to the router (and so to the
/// document) without being added here fails `the_document_lists_exactly_the_api_routes`.
const EXPECTED: &[(&str, &str)] = &[
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/tickets"),
    ("GET", "/api/v1/tickets/{number}"),
    ("PATCH", "/api/v1/tickets/{number}"),
    ("POST", "/api/v1/tickets/{number}/replies"),
    ("POST", "/api/v1/tickets/{number}/notes"),
    ("GET", "/api/v1/attachments/{id}"),
    ("GET", "/api/v1/quarantine"),
    ("GET", "/api/v1/quarantine/{id}/raw"),
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/views"),
    ("GET", "/api/v1/agents"),
    ("POST", "/api/v1/agents"),
    ("PATCH", "/api/v1/agents/{email}"),
    ("PATCH", "/api/v1/me"),
    ("GET", "/api/v1/analytics/summary"),
    ("GET", "/api/v1/analytics/agents"),
    ("GET", "/api/v1/analytics/busiest"),
    ("GET", "/api/v1/analytics/tickets.csv"),
    ("GET", "/api/v1/analytics/tags"),
    ("GET", "/api/v1/analytics/mailboxes"),
    ("GET", "/api/v1/analytics/teams"),
    ("GET", "/api/v1/analytics/customers"),
    ("GET", "/api/v1/teams"),
    ("POST", "/api/v1/teams"),
    ("PATCH", "/api/v1/teams/{name}"),
    ("GET", "/api/v1/mailboxes"),
    ("POST", "/api/v1/mailboxes"),
    ("PATCH", "/api/v1/mailboxes/{address}"),
    ("POST", "/api/v1/mailboxes/{address}/test"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/rules"),
    ("POST", "/api/v1/rules"),
    ("POST", "/api/v1/rules/reorder"),
    ("POST", "/api/v1/rules/dry-run"),
    ("PATCH", "/api/v1/rules/{id}"),
    ("DELETE", "/api/v1/rules/{id}"),
    ("GET", "/api/v1/calendars"),
    ("POST", "/api/v1/calendars"),
    ("GET", "/api/v1/calendars/{id}"),
    ("PATCH", "/api/v1/calendars/{id}"),
    ("DELETE", "/api/v1/calendars/{id}"),
    ("GET", "/api/v1/calendars/{id}/due"),
    ("GET", "/api/v1/calendars/{id}/business-minutes"),
    ("GET", "/api/v1/sla-policies"),
    ("POST", "/api/v1/sla-policies"),
    ("GET", "/api/v1/sla-policies/{id}"),
    ("PATCH", "/api/v1/sla-policies/{id}"),
    ("DELETE", "/api/v1/sla-policies/{id}"),
    ("GET", "/api/v1/customers/{email}"),
    ("PATCH", "/api/v1/customers/{email}"),
    ("GET", "/api/v1/companies/{domain}"),
    ("PATCH", "/api/v1/companies/{domain}"),
    ("GET", "/api/v1/webhooks"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{id}"),
    ("PATCH", "/api/v1/webhooks/{id}"),
    ("DELETE", "/api/v1/webhooks/{id}"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

/// One request to the real router; the body is JSON when there is one.
async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, content_type, bytes.to_vec())
}

/// The document as the API serves it, and validators for its response schemas.
struct Document {
    doc: Value,
    /// `components`, made strict (see [`strict_components`]).
    components: Value,
}

impl Document {
    async fn fetch(router: &axum::Router, token: &str) -> Document {
        let (status, content_type, body) =
            call(router, "GET", "/api/v1/openapi.json", Some(token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let components = strict_components(&doc["components"]);
        Document { doc, components }
    }

    /// Every `(METHOD, path)` the document lists.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                if METHODS.contains(&method.to_uppercase().as_str()) {
                    ops.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not in the document");
        op
    }

    /// The JSON schema the document gives for `method path` answering `status`.
    fn response_schema(&self, method: &str, path: &str, status: StatusCode) -> &Value {
        let response = &self.operation(method, path)["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not list"
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status}: no JSON schema in {response}"
        );
        schema
    }

    /// What is wrong with `value` by `schema` (strict, with the document's components).
    fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut root = schema.clone();
        strict(&mut root, false);
        root["components"] = self.components.clone();
        let validator = jsonschema::draft202012::new(&root)
            .unwrap_or_else(|e| panic!("a bad schema: {e}\n{schema:#}"));
        validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// Checks an answer against the document: `body` as `method path` answering `status`.
    fn check(&self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let errors = self.errors(self.response_schema(method, path, status), body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the answer does not match the document:\n{}\n{body:#}",
            errors.join("\n")
        );
    }

    /// Checks a request body against the document's request body of `method path`.
    fn check_request(&self, method: &str, path: &str, body: &Value) {
        let schema =
            &self.operation(method, path)["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path}: no request body in the document"
        );
        let errors = self.errors(schema, body);
        assert!(
            errors.is_empty(),
            "{method} {path}: the request body does not match the document:\n{}\n{body:#}",
            errors.join("\n")
        );
    }
}

/// The document's component schemas with `unevaluatedProperties: false` on every object
/// schema, so that a field the document does not describe fails validation too. A component
/// that is a part of another (a flattened struct, referenced from an `allOf`) stays open; the
/// `allOf` whole is closed instead.
fn strict_components(components: &Value) -> Value {
    let mut components = components.clone();
    let mut parts = HashSet::new();
    collect_all_of_refs(&components, &mut parts);
    for (name, schema) in components["schemas"].as_object_mut().unwrap() {
        strict(
            schema,
            parts.contains(&format!("#/components/schemas/{name}")),
        );
    }
    components
}

fn collect_all_of_refs(v: &Value, parts: &mut HashSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(all)) = m.get("allOf") {
                for part in all {
                    if let Some(r) = part.get("$ref").and_then(Value::as_str) {
                        parts.insert(r.to_string());
                    }
                }
            }
            m.values().for_each(|x| collect_all_of_refs(x, parts));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_all_of_refs(x, parts)),
        _ => {}
    }
}

fn collect_refs(v: &Value, refs: &mut HashSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                refs.insert(r.to_string());
            }
            m.values().for_each(|x| collect_refs(x, refs));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, refs)),
        _ => {}
    }
}

fn strict(v: &mut Value, part: bool) {
    let Some(m) = v.as_object_mut() else { return };
    if let Some(Value::Array(all)) = m.get_mut("allOf") {
        all.iter_mut().for_each(|x| strict(x, true));
        m.insert("unevaluatedProperties".into(), false.into());
    } else if m.contains_key("properties") && !part {
        m.insert("unevaluatedProperties".into(), false.into());
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(|x| strict(x, false));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(x) = m.get_mut(key) {
            strict(x, false);
        }
    }
    for key in ["oneOf", "anyOf", "prefixItems"] {
        if let Some(Value::Array(xs)) = m.get_mut(key) {
            xs.iter_mut().for_each(|x| strict(x, false));
        }
    }
}

/// A path of the document with its parameters filled in.
fn fill(path: &str) -> String {
    path.replace("{number}", "1")
        .replace("{id}", "1")
        .replace("{email}", "nobody@example.com")
        .replace("{address}", "nobody@example.com")
        .replace("{name}", "Nobody")
        .replace("{domain}", "example.org")
}

async fn admin_token(db: &TestDb, email: &str) -> String {
    let id = agent(db, email, "Ada Admin", Role::Admin).await;
    frontdesk::auth::create_api_token(&db.pool, id)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_document_lists_exactly_the_api_routes() {
    let db = TestDb::new().await;
    let router = test_router(&db);
    let token = admin_token(&db, "ada@example.com").await;

    // The document needs a token like every other route.
    let (status, _, _) = call(&router, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let doc = Document::fetch(&router, &token).await;
    assert_eq!(doc.doc["openapi"], "3.1.0");
    assert_eq!(
        doc.doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": "An agent's API token (`frontdesk token create`)."})
    );
    assert_eq!(doc.doc["security"], json!([{"bearer": []}]));

    // Exactly the routes written out above.
    let listed = doc.operations();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(EXPECTED.len(), expected.len(), "EXPECTED has duplicates");
    let undocumented: Vec<_> = listed.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&listed).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "in the document but not in EXPECTED: {undocumented:?}; in EXPECTED but not in the document: {missing:?}"
    );

    // Every reference resolves.
    let mut refs = HashSet::new();
    collect_refs(&doc.doc, &mut refs);
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc.doc["components"]["schemas"][name].is_object(),
            "{r} is not in the document"
        );
    }

    for (method, path) in &listed {
        let op = doc.operation(method, path);
        let responses = op["responses"].as_object().unwrap();
        for (status, response) in responses {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: a response needs a description"
            );
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success response"
        );
        for status in ["401", "500"] {
            assert_eq!(
                responses[status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ApiError",
                "{method} {path}: {status}"
            );
        }
        // Path parameters are declared.
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            let declared = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
            assert!(
                declared,
                "{method} {path}: path parameter {name} is not declared"
            );
        }
        // The router serves it: a request without a token reaches the route and gets the
        // documented 401 (an unknown route would be a 404, a wrong method a 405).
        let (status, _, body) = call(&router, method, &fill(path), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        doc.check(
            method,
            path,
            status,
            &serde_json::from_slice(&body).unwrap(),
        );
    }

    // The router answers no other method on those paths.
    let paths: BTreeSet<&String> = listed.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            if listed.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let (status, _, _) = call(&router, method, &fill(path), Some(&token), None).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is served but not documented"
            );
        }
    }
    db.drop_db().await;
}

/// The API modules register routes only through utoipa-axum's `routes!` (documented by
/// construction); a plain axum `.route(` there would serve a route the document lacks.
#[test]
fn api_modules_register_no_undocumented_routes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/api");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for needle in [".route(", ".route_service(", ".nest_service("] {
            assert!(
                !source.contains(needle),
                "{} calls {needle}: register API routes with routes!(...)",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "read the API modules in {}", dir.display());
}

#[tokio::test]
async fn real_answers_validate_against_the_document() {
    let app = TestApp::new().await;
    app.deliver(&[
        "08-filename-rfc2231-wrong-charset.eml",
        "23-reply-in-reply-to-only-a.eml",
        "23-reply-in-reply-to-only-b.eml",
    ])
    .await;
    app.mb
        .deliver("INBOX", &[b"garbage without headers\r\n"])
        .await;
    app.ingest().await;
    while frontdesk::search::index_pending(app.pool()).await.unwrap() > 0 {}
    let db = &app.db;
    let router = test_router(db);
    let token = admin_token(db, "ada@example.com").await;
    let doc = Document::fetch(&router, &token).await;

    // Calls `method path` and checks the answer (expected `status`) against the document.
    // The request body (when there is one) is checked against the document too.
    let check = async |method: &str,
                       template: &str,
                       path: &str,
                       body: Option<Value>,
                       status: StatusCode| {
        if let Some(b) = &body
            && status.is_success()
        {
            doc.check_request(method, template, b);
        }
        let (got, content_type, bytes) =
            call(&router, method, path, Some(&token), body.as_ref()).await;
        let text = String::from_utf8_lossy(&bytes).to_string();
        assert_eq!(got, status, "{method} {path}: {text}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{method} {path}"
        );
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        doc.check(method, template, status, &value);
        value
    };
    let ok = StatusCode::OK;
    let created = StatusCode::CREATED;

    // Tickets.
    let list = check("GET", "/api/v1/tickets", "/api/v1/tickets", None, ok).await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 2, "{list}");
    let number = list["tickets"][0]["number"].as_i64().unwrap();
    let t = "/api/v1/tickets/{number}";
    let ticket_path = format!("/api/v1/tickets/{number}");
    check(
        "GET",
        "/api/v1/tickets",
        "/api/v1/tickets?limit=1",
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/tickets",
        "/api/v1/tickets?limit=0",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    check(
        "GET",
        t,
        "/api/v1/tickets/999999",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let note = check(
        "POST",
        "/api/v1/tickets/{number}/notes",
        &format!("{ticket_path}/notes"),
        Some(json!({"text": "Checked with @nobody"})),
        created,
    )
    .await;
    assert_eq!(
        note["unresolved_mentions"][0]["reason"], "no_such_agent",
        "{note}"
    );
    // A reply (queued), and one written against an old view of the ticket (409, not sent).
    app.smtp_to_sink().await;
    let replies = "/api/v1/tickets/{number}/replies";
    let queued = check(
        "POST",
        replies,
        &format!("{ticket_path}/replies"),
        Some(json!({"text": "Thanks, we are on it.", "status_after": "pending"})),
        StatusCode::ACCEPTED,
    )
    .await;
    let stale = check(
        "POST",
        replies,
        &format!("{ticket_path}/replies"),
        Some(json!({"text": "Me too", "seen_message_id": 1})),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        stale["newer"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == queued["id"]),
        "{stale}"
    );
    check(
        "PATCH",
        t,
        &ticket_path,
        Some(json!({"priority": "high", "tags": ["billing"], "assignee": "ada@example.com"})),
        ok,
    )
    .await;
    check(
        "PATCH",
        t,
        &ticket_path,
        Some(json!({"priority": "huge"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    // A saved view of the caller's, with its count.
    sqlx::query(
        "insert into saved_view (name, query, owner_agent_id, visibility)
         select 'Urgent', 'folder=open&priority=urgent', agent_id, 'everyone' from agent
         where email = 'ada@example.com'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let views = check("GET", "/api/v1/views", "/api/v1/views", None, ok).await;
    assert_eq!(views[0]["name"], "Urgent", "{views}");
    let quarantine = check("GET", "/api/v1/quarantine", "/api/v1/quarantine", None, ok).await;
    assert_eq!(
        quarantine["quarantine"].as_array().unwrap().len(),
        1,
        "{quarantine}"
    );
    // A word of a ticket's subject finds it.
    let word = list["tickets"][0]["subject"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| w.len() > 3)
        .expect("a word in the subject")
        .to_string();
    let search = check(
        "GET",
        "/api/v1/search",
        &format!("/api/v1/search?q={word}"),
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/search",
        "/api/v1/search",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Every ticket in detail: messages, attachments, events, SLA and CSAT as documented.
    let mut with_attachment = false;
    for t in list["tickets"].as_array().unwrap() {
        let n = t["number"].as_i64().unwrap();
        let detail = check(
            "GET",
            "/api/v1/tickets/{number}",
            &format!("/api/v1/tickets/{n}"),
            None,
            ok,
        )
        .await;
        with_attachment |= detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| !m["attachments"].as_array().unwrap().is_empty());
    }
    assert!(
        with_attachment,
        "the fixtures give an attachment to validate"
    );
    // The check can fail: an undocumented field, a wrong type, a missing field.
    let detail = check("GET", t, &ticket_path, None, ok).await;
    let schema = doc.response_schema("GET", t, ok);
    for (what, broken) in [
        ("an undocumented field", {
            let mut d = detail.clone();
            d["secret"] = json!(1);
            d
        }),
        ("an undocumented field in a message", {
            let mut d = detail.clone();
            d["messages"][0]["secret"] = json!(1);
            d
        }),
        ("a number as a string", {
            let mut d = detail.clone();
            d["number"] = json!("1");
            d
        }),
        ("an unknown status", {
            let mut d = detail.clone();
            d["status"] = json!("lost");
            d
        }),
        ("no messages", {
            let mut d = detail.clone();
            d.as_object_mut().unwrap().remove("messages");
            d
        }),
    ] {
        assert!(
            !doc.errors(schema, &broken).is_empty(),
            "{what} passes the document"
        );
    }
    assert!(
        !search["results"].as_array().unwrap().is_empty(),
        "{search}"
    );

    // Agents, teams, mailboxes, audit.
    check("GET", "/api/v1/agents", "/api/v1/agents", None, ok).await;
    check(
        "PATCH",
        "/api/v1/me",
        "/api/v1/me",
        Some(json!({"available": false, "time_zone": "Europe/Berlin"})),
        ok,
    )
    .await;
    check(
        "PATCH",
        "/api/v1/agents/{email}",
        "/api/v1/agents/ada@example.com",
        Some(json!({"max_open_tickets": 20})),
        ok,
    )
    .await;
    check(
        "POST",
        "/api/v1/teams",
        "/api/v1/teams",
        Some(json!({"name": "Billing", "members": ["ada@example.com"], "mailboxes": [SUPPORT]})),
        created,
    )
    .await;
    check("GET", "/api/v1/teams", "/api/v1/teams", None, ok).await;
    let mailboxes = check("GET", "/api/v1/mailboxes", "/api/v1/mailboxes", None, ok).await;
    assert_eq!(mailboxes["mailboxes"][0]["address"], SUPPORT, "{mailboxes}");
    check(
        "PATCH",
        "/api/v1/mailboxes/{address}",
        &format!("/api/v1/mailboxes/{SUPPORT}"),
        Some(json!({"signature": "The support team", "team": "Billing"})),
        ok,
    )
    .await;

    // Rules.
    let rule = check(
        "POST",
        "/api/v1/rules",
        "/api/v1/rules",
        Some(json!({"name": "Refunds", "trigger": "ticket_created",
            "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}]},
            "actions": [{"type": "add_tag", "tag": "refund"}]})),
        created,
    )
    .await;
    check("GET", "/api/v1/rules", "/api/v1/rules", None, ok).await;
    check(
        "POST",
        "/api/v1/rules/reorder",
        "/api/v1/rules/reorder",
        Some(json!({"ids": [rule["id"]]})),
        ok,
    )
    .await;
    check(
        "POST",
        "/api/v1/rules/dry-run",
        "/api/v1/rules/dry-run",
        Some(json!({"rule": {"name": "Any", "trigger": "ticket_created",
            "conditions": {"all": [{"field": "subject", "op": "contains", "value": "e"}]},
            "actions": [{"type": "add_tag", "tag": "e"}]}})),
        ok,
    )
    .await;

    // SLA: a calendar, a policy, the calculators.
    let cal = check(
        "POST",
        "/api/v1/calendars",
        "/api/v1/calendars",
        Some(json!({"name": "Office", "time_zone": "Europe/Berlin",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}, "holidays": ["2026-12-25"]})),
        created,
    )
    .await;
    let cal_id = cal["id"].as_i64().unwrap();
    check("GET", "/api/v1/calendars", "/api/v1/calendars", None, ok).await;
    check(
        "GET",
        "/api/v1/calendars/{id}",
        &format!("/api/v1/calendars/{cal_id}"),
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/calendars/{id}/due",
        &format!("/api/v1/calendars/{cal_id}/due?start=2026-12-04T16:30:00%2B01:00&minutes=120"),
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/calendars/{id}/business-minutes",
        &format!("/api/v1/calendars/{cal_id}/business-minutes?from=2026-12-07T08:00:00Z&to=2026-12-07T09:30:30Z"),
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/calendars/{id}/due",
        &format!("/api/v1/calendars/{cal_id}/due?minutes=1"),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let targets = json!({"first_response": 30, "next_response": 60, "resolution": 240});
    let policy = check(
        "POST",
        "/api/v1/sla-policies",
        "/api/v1/sla-policies",
        Some(json!({"name": "Standard", "calendar": cal_id,
            "targets": {"urgent": targets, "high": targets, "normal": targets, "low": targets}})),
        created,
    )
    .await;
    let policy_id = policy["id"].as_i64().unwrap();
    check(
        "GET",
        "/api/v1/sla-policies",
        "/api/v1/sla-policies",
        None,
        ok,
    )
    .await;
    check(
        "GET",
        "/api/v1/sla-policies/{id}",
        &format!("/api/v1/sla-policies/{policy_id}"),
        None,
        ok,
    )
    .await;
    // The ticket under the policy shows its clocks.
    check(
        "PATCH",
        t,
        &ticket_path,
        Some(json!({"sla_policy": policy_id})),
        ok,
    )
    .await;

    // Customers and companies.
    let customer = list["tickets"][0]["customer"]["email"]
        .as_str()
        .expect("the ticket has a customer")
        .to_string();
    let c = "/api/v1/customers/{email}";
    check("GET", c, &format!("/api/v1/customers/{customer}"), None, ok).await;
    check(
        "PATCH",
        c,
        &format!("/api/v1/customers/{customer}"),
        Some(json!({"vip": true, "company": "acme.example", "notes": "Pays yearly"})),
        ok,
    )
    .await;
    check(
        "GET",
        c,
        "/api/v1/customers/nobody@example.com",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let company = check(
        "GET",
        "/api/v1/companies/{domain}",
        "/api/v1/companies/acme.example",
        None,
        ok,
    )
    .await;
    assert_eq!(
        company["customers"][0]["email"],
        customer.as_str(),
        "{company}"
    );
    check(
        "PATCH",
        "/api/v1/companies/{domain}",
        "/api/v1/companies/acme.example",
        Some(json!({"name": "Acme", "health": 80})),
        ok,
    )
    .await;

    // Webhooks, with a delivery queued by a note.
    let hook = check(
        "POST",
        "/api/v1/webhooks",
        "/api/v1/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["note.added"], "secret": "s"})),
        created,
    )
    .await;
    let hook_id = hook["id"].as_i64().unwrap();
    check(
        "POST",
        "/api/v1/tickets/{number}/notes",
        &format!("{ticket_path}/notes"),
        Some(json!({"text": "For the webhook"})),
        created,
    )
    .await;
    check("GET", "/api/v1/webhooks", "/api/v1/webhooks", None, ok).await;
    let detail = check(
        "GET",
        "/api/v1/webhooks/{id}",
        &format!("/api/v1/webhooks/{hook_id}"),
        None,
        ok,
    )
    .await;
    assert_eq!(
        detail["deliveries"].as_array().unwrap().len(),
        1,
        "{detail}"
    );
    check(
        "PATCH",
        "/api/v1/webhooks/{id}",
        &format!("/api/v1/webhooks/{hook_id}"),
        Some(json!({"enabled": false})),
        ok,
    )
    .await;

    // Analytics, after all of that.
    for report in [
        "summary",
        "agents",
        "busiest",
        "tags",
        "mailboxes",
        "teams",
        "customers",
    ] {
        let template = format!("/api/v1/analytics/{report}");
        check("GET", &template, &template, None, ok).await;
    }
    check(
        "GET",
        "/api/v1/analytics/summary",
        "/api/v1/analytics/summary?from=yesterday",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // The audit log saw the changes.
    let audit = check("GET", "/api/v1/audit", "/api/v1/audit?limit=5", None, ok).await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 5, "{audit}");

    app.finish().await;
}
