//! Work goes to whoever can take it when capacity frees up (domain notes §4): when an agent
//! closes a ticket, marks it spam, hands it on, becomes available or has their cap raised, the
//! oldest unassigned tickets of their round-robin and least-loaded teams are handed out by the
//! team's mode, each as an `assigned` event with Frontdesk (system) as actor. Nothing waits
//! for a batch job (Chatwoot #10376: tickets stayed unassigned until the next one arrived).
//!
//! Runs in the transaction of the change that freed the capacity. Tickets are claimed with
//! `FOR UPDATE SKIP LOCKED` and the team's turn under its row lock
//! ([`super::engine::assign_within_team`]), so two nodes never hand out the same ticket or
//! the same turn.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use crate::tickets::TicketStatus;
use crate::tickets::actions::{self as ticket_actions, ActionError};
use crate::tickets::timeline::{Actor, Recorded, TimelineEvent};

/// At most this many tickets are handed out per freeing change (a large backlog drains over
/// the following changes instead of in one long transaction).
pub const MAX_PER_PULL: i64 = 20;

/// The agent whose open tickets this event made fewer, if any: the assignee of a ticket just
/// closed or marked spam, or the agent a ticket was taken from.
async fn freed_agent(
    conn: &mut PgConnection,
    recorded: &Recorded<'_>,
) -> sqlx::Result<Option<i64>> {
    match recorded.event {
        TimelineEvent::Assigned { from: Some(a), to } if to != &Some(*a) => Ok(Some(*a)),
        TimelineEvent::StatusChanged {
            to: TicketStatus::Closed,
            ..
        }
        | TimelineEvent::MarkedSpam {} => {
            sqlx::query_scalar("select assignee_agent_id from ticket where ticket_id = $1")
                .bind(recorded.ticket)
                .fetch_one(&mut *conn)
                .await
        }
        _ => Ok(None),
    }
}

/// The timeline hook's part: when the event freed capacity, hands out waiting tickets.
pub fn on_event<'a>(
    conn: &'a mut PgConnection,
    recorded: &'a Recorded<'a>,
) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move {
        if let Some(agent) = freed_agent(conn, recorded).await? {
            hand_out(conn, agent).await?;
        }
        Ok(())
    })
}

/// Hands out the oldest unassigned open tickets of the agent's round-robin and least-loaded
/// teams, each by its team's mode, while someone on the team can take one (at most
/// [`MAX_PER_PULL`]). Returns `(ticket, agent)` pairs handed out.
pub fn hand_out(
    conn: &mut PgConnection,
    agent: i64,
) -> BoxFuture<'_, sqlx::Result<Vec<(i64, i64)>>> {
    Box::pin(async move {
        let waiting: Vec<(i64, i64)> = sqlx::query_as(
            "select t.ticket_id, t.team_id from ticket t
             join team tm on tm.team_id = t.team_id
             join team_member m on m.team_id = t.team_id and m.agent_id = $1
             where tm.assignment in ('round_robin', 'least_loaded')
               and t.assignee_agent_id is null and t.status <> 'closed' and not t.spam
             order by t.created_at, t.ticket_id
             limit $2
             for update of t skip locked",
        )
        .bind(agent)
        .bind(MAX_PER_PULL)
        .fetch_all(&mut *conn)
        .await?;
        let mut handed = Vec::new();
        let mut full_teams: Vec<i64> = Vec::new();
        for (ticket, team) in waiting {
            if full_teams.contains(&team) {
                continue;
            }
            let Some((chosen, _)) = super::engine::assign_within_team(conn, ticket, team).await?
            else {
                // nobody on this team can take more now
                full_teams.push(team);
                continue;
            };
            match ticket_actions::assign_in(conn, Actor::System, None, ticket, Some(chosen)).await {
                Ok(()) => handed.push((ticket, chosen)),
                Err(ActionError::Db(e)) => return Err(e),
                Err(e) => {
                    tracing::warn!(ticket.number = ticket, agent.id = chosen, error = %e, "could not hand out a waiting ticket");
                }
            }
        }
        if !handed.is_empty() {
            tracing::info!(
                agent.id = agent,
                tickets = handed.len(),
                "capacity freed: waiting tickets handed out"
            );
        }
        Ok(handed)
    })
}
