//! `frontdesk team add|member add|grant|list`. Changes go through `teams` and are written to
//! the audit log with actor `cli`.

use anyhow::Context;
use clap::Subcommand;
use sqlx::PgPool;

use super::table::{list_or_dash, table};
use crate::audit::AuditActor;
use crate::teams::{self, TeamChange};
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
    let actor = AuditActor::Cli;
    let existing = |name: String| async move {
        teams::get(pool, &name).await?.with_context(|| {
            format!("no team named {name:?} (create it with `frontdesk team add`)")
        })
    };
    match command {
        TeamCommand::Add { name } => {
            let name = name.trim();
            // A re-run is fine: the team is left as it is.
            if let Some(t) = teams::get(pool, name).await? {
                println!("team {name} already exists (id {})", t.team_id);
            } else {
                let change = TeamChange {
                    name: Some(name.to_string()),
                    ..Default::default()
                };
                let t = teams::create(pool, &actor, change).await?;
                println!("team {name} created (id {})", t.team_id);
            }
        }
        TeamCommand::Member {
            command: TeamMemberCommand::Add { team, email },
        } => {
            let t = existing(team).await?;
            let agent = auth::find_agent_by_email(pool, &email)
                .await?
                .with_context(|| format!("no agent with email {email}"))?;
            let mut members = t.members.clone();
            if !members.iter().any(|m| m.eq_ignore_ascii_case(&agent.email)) {
                members.push(agent.email.clone());
                let change = TeamChange {
                    members: Some(members),
                    ..Default::default()
                };
                teams::update(pool, &actor, &t.name, change).await?;
            }
            println!("{email} is in the team");
        }
        TeamCommand::Grant {
            team,
            mailbox_address,
        } => {
            let t = existing(team).await?;
            let mb = mailboxes::find_mailbox_by_address(pool, &mailbox_address)
                .await?
                .with_context(|| format!("no mailbox with address {mailbox_address}"))?;
            let mut granted = t.mailboxes.clone();
            if !granted.iter().any(|m| m.eq_ignore_ascii_case(&mb.address)) {
                granted.push(mb.address.clone());
                let change = TeamChange {
                    mailboxes: Some(granted),
                    ..Default::default()
                };
                teams::update(pool, &actor, &t.name, change).await?;
            }
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
