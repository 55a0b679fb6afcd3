//! The `rule` table: list in order, create, update, delete, reorder; every change in the
//! audit log. Rules are validated as a whole ([`super::validate::validate`] with the names
//! that exist now) before anything is written.

use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use time::OffsetDateTime;

use super::model::{Rule, RuleError};
use super::validate::{self, KnownNames};
use crate::audit::{self, AuditActor};

/// A stored rule as the API and the admin page show it: the rule's JSON shape plus its id,
/// position and firing figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredRule {
    pub id: i64,
    /// 1-based order of evaluation.
    pub position: i32,
    #[serde(flatten)]
    #[schema(value_type = super::model::RuleShape)]
    pub rule: Rule,
    /// How often it fired, on all tickets.
    pub fire_count: i64,
    /// UTC.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_fired_at: Option<OffsetDateTime>,
}

/// Why a rule change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleStoreError {
    /// The rule is invalid: every problem, each naming its part (`conditions.all[1].op: ...`).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<RuleError>),
    #[error("no such rule")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(FromRow)]
struct Row {
    rule_id: i64,
    position: i32,
    json: sqlx::types::Json<Value>,
    fire_count: i64,
    last_fired_at: Option<OffsetDateTime>,
}

fn stored(r: Row) -> Option<StoredRule> {
    match Rule::from_json(&r.json.0) {
        Ok(rule) => Some(StoredRule {
            id: r.rule_id,
            position: r.position,
            rule,
            fire_count: r.fire_count,
            last_fired_at: r.last_fired_at,
        }),
        Err(e) => {
            tracing::error!(rule.id = r.rule_id, error = %e, "a stored rule no longer parses");
            None
        }
    }
}

fn select(filter: &str) -> String {
    format!(
        "select r.rule_id, r.position, {} as json, r.fire_count, r.last_fired_at from rule r {filter}",
        super::engine::RULE_JSON
    )
}

/// Every rule, in evaluation order.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<StoredRule>> {
    let rows: Vec<Row> = sqlx::query_as(&select("order by r.position, r.rule_id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().filter_map(stored).collect())
}

/// One rule.
pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<StoredRule>> {
    let row: Option<Row> = sqlx::query_as(&select("where r.rule_id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.and_then(stored))
}

/// The names rules may refer to, as they are now.
pub async fn known_names(conn: &mut PgConnection) -> sqlx::Result<KnownNames> {
    Ok(KnownNames {
        teams: sqlx::query_scalar("select name from team")
            .fetch_all(&mut *conn)
            .await?,
        agents: sqlx::query_scalar("select email from agent where disabled_at is null")
            .fetch_all(&mut *conn)
            .await?,
        saved_replies: sqlx::query_as(
            "select saved_reply_id, name from saved_reply where owner_agent_id is null",
        )
        .fetch_all(&mut *conn)
        .await?,
        sla_policies: sqlx::query_scalar("select name from sla_policy")
            .fetch_all(&mut *conn)
            .await?,
        lifecycle_stages: sqlx::query_scalar(
            "select name from lifecycle_stage order by position, lifecycle_stage_id",
        )
        .fetch_all(&mut *conn)
        .await?,
    })
}

/// Parses and validates a rule from the API's JSON shape against what exists now.
pub async fn parse_valid(conn: &mut PgConnection, value: &Value) -> Result<Rule, RuleStoreError> {
    let rule = Rule::from_json(value).map_err(|e| RuleStoreError::Invalid(vec![e]))?;
    let known = known_names(conn).await?;
    let errors = validate::validate(&rule, &known);
    if errors.is_empty() {
        Ok(rule)
    } else {
        Err(RuleStoreError::Invalid(errors))
    }
}

fn columns(rule: &Rule) -> (Value, Value) {
    let json = rule.to_json();
    (json["conditions"].clone(), json["actions"].clone())
}

/// Creates a rule at the end of the order; returns it.
pub async fn create(
    pool: &PgPool,
    actor: &AuditActor,
    value: &Value,
) -> Result<StoredRule, RuleStoreError> {
    let mut tx = pool.begin().await?;
    // one writer of the order at a time
    sqlx::query("lock table rule in share row exclusive mode")
        .execute(&mut *tx)
        .await?;
    let rule = parse_valid(&mut tx, value).await?;
    let (conditions, actions) = columns(&rule);
    let id: i64 = sqlx::query_scalar(
        "insert into rule (position, name, enabled, trigger, conditions, actions, mode, stop)
         values ((select coalesce(max(position), 0) + 1 from rule), $1, $2, $3, $4, $5, $6, $7)
         returning rule_id",
    )
    .bind(&rule.name)
    .bind(rule.enabled)
    .bind(rule.trigger.as_str())
    .bind(sqlx::types::Json(&conditions))
    .bind(sqlx::types::Json(&actions))
    .bind(rule.mode.as_str())
    .bind(rule.stop)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "rule.create",
        &rule.name,
        None,
        Some(rule.to_json()),
    )
    .await?;
    let stored = get(&mut tx, id).await?.ok_or(RuleStoreError::NotFound)?;
    tx.commit().await?;
    Ok(stored)
}

/// Changes a rule: `patch` holds the top-level fields to replace (`name`, `enabled`,
/// `trigger`, `conditions`, `actions`, `mode`, `stop`); the result is validated as a whole.
pub async fn update(
    pool: &PgPool,
    actor: &AuditActor,
    id: i64,
    patch: &Value,
) -> Result<StoredRule, RuleStoreError> {
    let Value::Object(fields) = patch else {
        return Err(RuleStoreError::Invalid(vec![RuleError::new(
            "",
            "expected a JSON object",
        )]));
    };
    let mut tx = pool.begin().await?;
    let old = get(&mut tx, id).await?.ok_or(RuleStoreError::NotFound)?;
    sqlx::query("select 1 from rule where rule_id = $1 for update")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let before = old.rule.to_json();
    let mut merged = before.clone();
    for (k, v) in fields {
        merged[k] = v.clone();
    }
    let rule = parse_valid(&mut tx, &merged).await?;
    let (conditions, actions) = columns(&rule);
    sqlx::query(
        "update rule set name = $2, enabled = $3, trigger = $4, conditions = $5, actions = $6, mode = $7,
                stop = $8, updated_at = now() where rule_id = $1",
    )
    .bind(id)
    .bind(&rule.name)
    .bind(rule.enabled)
    .bind(rule.trigger.as_str())
    .bind(sqlx::types::Json(&conditions))
    .bind(sqlx::types::Json(&actions))
    .bind(rule.mode.as_str())
    .bind(rule.stop)
    .execute(&mut *tx)
    .await?;
    if let Some((b, a)) = audit::changed_fields(&before, &rule.to_json()) {
        audit::record(&mut *tx, actor, "rule.update", &rule.name, Some(b), Some(a)).await?;
    }
    let stored = get(&mut tx, id).await?.ok_or(RuleStoreError::NotFound)?;
    tx.commit().await?;
    Ok(stored)
}

/// A lifecycle stage was renamed from `old` to `new`: every rule naming it (a
/// `customer.lifecycle_stage` condition's value, one of an `in` list, or a
/// `set_lifecycle_stage` / `set_company_lifecycle_stage` action; names compared ignoring
/// case) now names `new`, in the caller's transaction, each change audited as `rule.update`.
/// Returns the names of the rules changed. Without this a rule would stop matching, since
/// rules keep the stage's name.
pub async fn rename_lifecycle_stage(
    conn: &mut PgConnection,
    actor: &AuditActor,
    old: &str,
    new: &str,
) -> sqlx::Result<Vec<String>> {
    let rules: Vec<(i64, String, Value, Value)> = sqlx::query_as(
        "select rule_id, name, conditions, actions from rule order by rule_id for update",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = Vec::new();
    for (id, name, mut conditions, mut actions) in rules {
        let before = serde_json::json!({"conditions": conditions, "actions": actions});
        let n = rename_stage_in_conditions(&mut conditions, old, new)
            + rename_stage_in_actions(&mut actions, old, new);
        if n == 0 {
            continue;
        }
        sqlx::query("update rule set conditions = $2, actions = $3 where rule_id = $1")
            .bind(id)
            .bind(&conditions)
            .bind(&actions)
            .execute(&mut *conn)
            .await?;
        let after = serde_json::json!({"conditions": conditions, "actions": actions});
        audit::record(
            &mut *conn,
            actor,
            "rule.update",
            &name,
            Some(before),
            Some(after),
        )
        .await?;
        changed.push(name);
    }
    Ok(changed)
}

/// Renames the stage in `customer.lifecycle_stage` conditions anywhere in a condition tree
/// (JSON as stored); returns how many values changed.
fn rename_stage_in_conditions(node: &mut Value, old: &str, new: &str) -> usize {
    let rename = |v: &mut Value| match v {
        Value::String(s) if s.eq_ignore_ascii_case(old) => {
            *s = new.to_string();
            1
        }
        _ => 0,
    };
    match node {
        Value::Array(list) => list
            .iter_mut()
            .map(|n| rename_stage_in_conditions(n, old, new))
            .sum(),
        Value::Object(obj) => {
            if obj.get("field").and_then(Value::as_str) == Some("customer.lifecycle_stage") {
                match obj.get_mut("value") {
                    Some(Value::Array(values)) => values.iter_mut().map(rename).sum(),
                    Some(v) => rename(v),
                    None => 0,
                }
            } else {
                let mut n = 0;
                for key in ["all", "any"] {
                    if let Some(group) = obj.get_mut(key) {
                        n += rename_stage_in_conditions(group, old, new);
                    }
                }
                n
            }
        }
        _ => 0,
    }
}

/// Renames the stage in `set_lifecycle_stage` and `set_company_lifecycle_stage` actions;
/// returns how many changed.
fn rename_stage_in_actions(actions: &mut Value, old: &str, new: &str) -> usize {
    let Value::Array(list) = actions else {
        return 0;
    };
    let mut n = 0;
    for a in list {
        let kind = a.get("type").and_then(Value::as_str);
        if !matches!(
            kind,
            Some("set_lifecycle_stage" | "set_company_lifecycle_stage")
        ) {
            continue;
        }
        if let Some(Value::String(s)) = a.get_mut("stage")
            && s.eq_ignore_ascii_case(old)
        {
            *s = new.to_string();
            n += 1;
        }
    }
    n
}

/// Deletes a rule (its firing records go with it; timeline events keep its name).
pub async fn delete(pool: &PgPool, actor: &AuditActor, id: i64) -> Result<(), RuleStoreError> {
    let mut tx = pool.begin().await?;
    let old = get(&mut tx, id).await?.ok_or(RuleStoreError::NotFound)?;
    sqlx::query("delete from rule where rule_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "rule.delete",
        &old.rule.name,
        Some(old.rule.to_json()),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the order: `ids` must name every rule exactly once.
pub async fn reorder(pool: &PgPool, actor: &AuditActor, ids: &[i64]) -> Result<(), RuleStoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("lock table rule in share row exclusive mode")
        .execute(&mut *tx)
        .await?;
    let mut all: Vec<i64> =
        sqlx::query_scalar("select rule_id from rule order by position, rule_id")
            .fetch_all(&mut *tx)
            .await?;
    let before: Vec<i64> = all.clone();
    let mut given = ids.to_vec();
    given.sort_unstable();
    all.sort_unstable();
    if given != all {
        return Err(RuleStoreError::Invalid(vec![RuleError::new(
            "ids",
            "must list every rule's id exactly once",
        )]));
    }
    sqlx::query(
        "update rule r set position = x.n from unnest($1::bigint[]) with ordinality as x(id, n)
         where r.rule_id = x.id",
    )
    .bind(ids)
    .execute(&mut *tx)
    .await?;
    if before != ids {
        audit::record(
            &mut *tx,
            actor,
            "rule.reorder",
            "rules",
            Some(serde_json::json!({ "ids": before })),
            Some(serde_json::json!({ "ids": ids })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Moves a rule one place up (`-1`) or down (`1`) in the order.
pub async fn shift(
    pool: &PgPool,
    actor: &AuditActor,
    id: i64,
    by: i32,
) -> Result<(), RuleStoreError> {
    let mut ids: Vec<i64> =
        sqlx::query_scalar("select rule_id from rule order by position, rule_id")
            .fetch_all(pool)
            .await?;
    let Some(at) = ids.iter().position(|x| *x == id) else {
        return Err(RuleStoreError::NotFound);
    };
    let to = at as i64 + i64::from(by);
    if to < 0 || to >= ids.len() as i64 {
        return Ok(());
    }
    ids.swap(at, to as usize);
    reorder(pool, actor, &ids).await
}

#[cfg(test)]
mod rename_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_renamed_stage_is_renamed_in_conditions_and_actions_only() {
        let mut conditions = json!({"all": [
            {"field": "customer.lifecycle_stage", "op": "is", "value": "At Risk"},
            {"field": "subject", "op": "contains", "value": "at risk"},
            {"any": [{"field": "customer.lifecycle_stage", "op": "in", "value": ["active", "at risk"]}]}
        ]});
        assert_eq!(
            rename_stage_in_conditions(&mut conditions, "at risk", "churning"),
            2
        );
        assert_eq!(
            conditions,
            json!({"all": [
                {"field": "customer.lifecycle_stage", "op": "is", "value": "churning"},
                {"field": "subject", "op": "contains", "value": "at risk"},
                {"any": [{"field": "customer.lifecycle_stage", "op": "in", "value": ["active", "churning"]}]}
            ]})
        );
        let mut actions = json!([
            {"type": "set_lifecycle_stage", "stage": "AT RISK"},
            {"type": "add_tag", "tag": "at risk"},
            {"type": "set_company_lifecycle_stage", "stage": "renewal"}
        ]);
        assert_eq!(
            rename_stage_in_actions(&mut actions, "at risk", "churning"),
            1
        );
        assert_eq!(actions[0]["stage"], "churning");
        assert_eq!(actions[1]["tag"], "at risk");
        assert_eq!(actions[2]["stage"], "renewal");
    }
}
