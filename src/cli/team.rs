//! `frontdesk team add|member add|grant|list`.

use anyhow::Context;
use clap::Subcommand;
use sqlx::PgPool;

use super::table::{list_or_dash, table};
use crate::{auth, mailboxes};

/// `frontdesk team ...`.
#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Create a team.
    Add { name: String },
    /// Team membership.
    Member {
        #[command(subcommand)]
        command: TeamMemberCommand,
    },
    /// Give a team's agents access to a mailbox.
    Grant {
        team: String,
        mailbox_address: String,
    },
    /// List teams with their members and granted mailboxes.
    List,
}

/// `frontdesk team member ...`.
#[derive(Subcommand, Debug)]
pub enum TeamMemberCommand {
    /// Add an agent (by email) to a team.
    Add { team: String, email: String },
}

/// Runs one `team` subcommand.
pub(super) async fn run(pool: &PgPool, command: TeamCommand) -> anyhow::Result<()> {
    let team_id = |name: String| async move {
        sqlx::query_scalar::<_, i64>("select team_id from team where name = $1")
            .bind(&name)
            .fetch_optional(pool)
            .await?
            .with_context(|| {
                format!("no team named {name:?} (create it with `frontdesk team add`)")
            })
    };
    match command {
        TeamCommand::Add { name } => {
            // `xmax = 0`: the row was inserted, not the existing team's (a re-run is fine).
            let (id, created): (i64, bool) = sqlx::query_as(
                "insert into team (name) values ($1) on conflict (name) do update set name = excluded.name
                 returning team_id, xmax = 0",
            )
            .bind(name.trim())
            .fetch_one(pool)
            .await?;
            let name = name.trim();
            if created {
                println!("team {name} created (id {id})");
            } else {
                println!("team {name} already exists (id {id})");
            }
        }
        TeamCommand::Member {
            command: TeamMemberCommand::Add { team, email },
        } => {
            let team = team_id(team).await?;
            let agent = auth::find_agent_by_email(pool, &email)
                .await?
                .with_context(|| format!("no agent with email {email}"))?;
            sqlx::query("insert into team_member (team_id, agent_id) values ($1, $2) on conflict do nothing")
                .bind(team)
                .bind(agent.agent_id)
                .execute(pool)
                .await?;
            println!("{email} is in the team");
        }
        TeamCommand::Grant {
            team,
            mailbox_address,
        } => {
            let team = team_id(team).await?;
            let mb = mailboxes::find_mailbox_by_address(pool, &mailbox_address)
                .await?
                .with_context(|| format!("no mailbox with address {mailbox_address}"))?;
            sqlx::query("insert into team_mailbox (team_id, mailbox_id) values ($1, $2) on conflict do nothing")
                .bind(team)
                .bind(mb.mailbox_id)
                .execute(pool)
                .await?;
            println!("the team can work {mailbox_address}");
        }
        TeamCommand::List => {
            let rows: Vec<Vec<String>> = auth::admin::list_team_overview(pool)
                .await?
                .into_iter()
                .map(|t| {
                    let members = t
                        .members
                        .iter()
                        .map(|m| {
                            if t.disabled_members.contains(m) {
                                format!("{m} (disabled)")
                            } else {
                                m.clone()
                            }
                        })
                        .collect::<Vec<_>>();
                    vec![t.name, list_or_dash(&members), list_or_dash(&t.mailboxes)]
                })
                .collect();
            print!("{}", table(&["TEAM", "MEMBERS", "MAILBOXES"], &rows));
        }
    }
    Ok(())
}
