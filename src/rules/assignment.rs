//! Choosing an agent within a team, pure: round robin and least loaded among [`Candidate`]s.
//!
//! The DB layer loads the team's members as candidates (with their open-ticket counts) and the
//! team's last assigned agent under a row lock on the team's turn (`select ... for update` on
//! the team row), calls [`choose`], assigns, and stores the chosen agent as the new turn in the
//! same transaction, so two nodes never hand out the same turn.

/// A team member, as the chooser sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `agent.agent_id`; the stable order of the round robin.
    pub agent_id: i64,
    /// Available (not away, and seen in the web UI recently enough).
    pub available: bool,
    /// The account is active.
    pub active: bool,
    /// The agent can see the ticket's mailbox.
    pub can_see_mailbox: bool,
    /// Open tickets assigned to the agent now.
    pub open_tickets: i64,
    /// Most open tickets the agent takes (`None`: no cap; 0 or less: takes none).
    pub cap: Option<i32>,
}

impl Candidate {
    /// Active, available, sees the mailbox, and under the cap.
    pub fn is_eligible(&self) -> bool {
        self.active
            && self.available
            && self.can_see_mailbox
            && self
                .cap
                .is_none_or(|cap| self.open_tickets < i64::from(cap))
    }
}

/// A team's assignment mode (manual: no automatic choice, so no variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentMode {
    /// The next eligible agent after the last one, by agent id, wrapping around.
    RoundRobin,
    /// The eligible agent with the fewest open tickets; ties in round-robin order.
    LeastLoaded,
}

/// Eligible candidates in round-robin order: agent ids after `last_assigned` first (ascending),
/// then the others from the smallest id (wrapping around).
pub fn turn_order(candidates: &[Candidate], last_assigned: Option<i64>) -> Vec<&Candidate> {
    let mut eligible: Vec<&Candidate> = candidates.iter().filter(|c| c.is_eligible()).collect();
    eligible.sort_by_key(|c| c.agent_id);
    eligible.dedup_by_key(|c| c.agent_id);
    if let Some(last) = last_assigned {
        let split = eligible.partition_point(|c| c.agent_id <= last);
        eligible.rotate_left(split);
    }
    eligible
}

/// The agent whose turn it is (round robin), `None` when nobody is eligible.
pub fn round_robin(candidates: &[Candidate], last_assigned: Option<i64>) -> Option<i64> {
    turn_order(candidates, last_assigned)
        .first()
        .map(|c| c.agent_id)
}

/// The least loaded eligible agent, ties broken in round-robin order; `None` when nobody is
/// eligible.
pub fn least_loaded(candidates: &[Candidate], last_assigned: Option<i64>) -> Option<i64> {
    turn_order(candidates, last_assigned)
        .into_iter()
        .enumerate()
        .min_by_key(|(i, c)| (c.open_tickets, *i))
        .map(|(_, c)| c.agent_id)
}

/// The agent to assign by `strategy`; `None` when nobody is eligible (the ticket stays in the
/// team's unassigned pool until capacity frees up or someone becomes available).
pub fn choose(
    strategy: AssignmentMode,
    candidates: &[Candidate],
    last_assigned: Option<i64>,
) -> Option<i64> {
    match strategy {
        AssignmentMode::RoundRobin => round_robin(candidates, last_assigned),
        AssignmentMode::LeastLoaded => least_loaded(candidates, last_assigned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agent(agent_id: i64, open_tickets: i64, cap: Option<i32>) -> Candidate {
        Candidate {
            agent_id,
            available: true,
            active: true,
            can_see_mailbox: true,
            open_tickets,
            cap,
        }
    }

    #[test]
    fn eligibility() {
        assert!(agent(1, 0, None).is_eligible());
        assert!(agent(1, 4, Some(5)).is_eligible());
        assert!(!agent(1, 5, Some(5)).is_eligible());
        assert!(!agent(1, 0, Some(0)).is_eligible());
        assert!(!agent(1, 0, Some(-1)).is_eligible());
        assert!(
            !Candidate {
                available: false,
                ..agent(1, 0, None)
            }
            .is_eligible()
        );
        assert!(
            !Candidate {
                active: false,
                ..agent(1, 0, None)
            }
            .is_eligible()
        );
        assert!(
            !Candidate {
                can_see_mailbox: false,
                ..agent(1, 0, None)
            }
            .is_eligible()
        );
    }

    #[test]
    fn round_robin_wraps_and_skips() {
        let team = [
            agent(30, 0, None),
            agent(10, 0, None),
            Candidate {
                available: false,
                ..agent(20, 0, None)
            },
        ];
        assert_eq!(round_robin(&team, None), Some(10));
        assert_eq!(round_robin(&team, Some(10)), Some(30));
        assert_eq!(round_robin(&team, Some(30)), Some(10));
        // The last one left the team or went away: the next id after it.
        assert_eq!(round_robin(&team, Some(20)), Some(30));
        assert_eq!(round_robin(&team, Some(99)), Some(10));
        assert_eq!(round_robin(&[], None), None);
        assert_eq!(round_robin(&[agent(1, 3, Some(3))], None), None);
    }

    #[test]
    fn least_loaded_ties_in_turn_order() {
        let team = [agent(1, 2, None), agent(2, 1, None), agent(3, 1, None)];
        assert_eq!(least_loaded(&team, None), Some(2));
        assert_eq!(least_loaded(&team, Some(2)), Some(3));
        assert_eq!(least_loaded(&team, Some(3)), Some(2));
        let capped = [agent(1, 2, None), agent(2, 1, Some(1))];
        assert_eq!(least_loaded(&capped, None), Some(1));
    }

    fn arb_team() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                prop::option::of(0i32..6),
                0u8..10,
            ),
            1..7,
        )
        .prop_map(|members| {
            members
                .into_iter()
                .enumerate()
                .map(|(i, (available, active, sees, cap, away_bias))| Candidate {
                    agent_id: (i as i64) * 7 + 3,
                    // Mostly eligible, so that the fairness part has something to check.
                    available: available || away_bias < 7,
                    active: active || away_bias < 8,
                    can_see_mailbox: sees || away_bias < 8,
                    open_tickets: 0,
                    cap,
                })
                .collect()
        })
    }

    proptest! {
        /// N tickets to K agents with caps, one by one (updating open counts), both strategies:
        /// never an ineligible agent, never over a cap, and among agents not at their cap at
        /// the end, counts differ by at most one.
        #[test]
        fn fair_assignment(mut team in arb_team(), n in 0usize..60, rr in any::<bool>(), last in prop::option::of(0i64..50)) {
            let strategy = if rr { AssignmentMode::RoundRobin } else { AssignmentMode::LeastLoaded };
            let mut last = last;
            let capacity: i64 = team.iter().filter(|c| c.active && c.available && c.can_see_mailbox)
                .map(|c| c.cap.map_or(1_000_000, |cap| i64::from(cap.max(0)))).sum();
            for _ in 0..n {
                let chosen = choose(strategy, &team, last);
                let Some(id) = chosen else {
                    // Nobody left: everyone eligible is at their cap.
                    prop_assert!(team.iter().all(|c| !c.is_eligible()));
                    break;
                };
                let c = team.iter_mut().find(|c| c.agent_id == id).unwrap();
                prop_assert!(c.active && c.available && c.can_see_mailbox);
                c.open_tickets += 1;
                prop_assert!(c.cap.is_none_or(|cap| c.open_tickets <= i64::from(cap)));
                last = Some(id);
            }
            let assigned: i64 = team.iter().map(|c| c.open_tickets).sum();
            prop_assert_eq!(assigned, (n as i64).min(capacity));
            for c in &team {
                if !(c.active && c.available && c.can_see_mailbox) {
                    prop_assert_eq!(c.open_tickets, 0);
                }
            }
            let open: Vec<i64> = team.iter().filter(|c| c.is_eligible()).map(|c| c.open_tickets).collect();
            if let (Some(min), Some(max)) = (open.iter().min(), open.iter().max()) {
                prop_assert!(max - min <= 1, "counts {:?}", team);
            }
        }

        /// Least loaded with any starting load picks an eligible agent with the fewest open
        /// tickets.
        #[test]
        fn least_loaded_is_least(team in arb_team(), loads in prop::collection::vec(0i64..8, 7), last in prop::option::of(0i64..50)) {
            let team: Vec<Candidate> = team.into_iter().zip(loads).map(|(c, l)| Candidate { open_tickets: l, ..c }).collect();
            match least_loaded(&team, last) {
                None => prop_assert!(team.iter().all(|c| !c.is_eligible())),
                Some(id) => {
                    let chosen = team.iter().find(|c| c.agent_id == id).unwrap();
                    prop_assert!(chosen.is_eligible());
                    prop_assert!(team.iter().filter(|c| c.is_eligible()).all(|c| c.open_tickets >= chosen.open_tickets));
                }
            }
        }
    }
}
