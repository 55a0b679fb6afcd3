-- rule_facts (20261204040000) and rule_facts_batch (20261204040100) also tell whether the
-- ticket's assignee is available (their own available/away switch, and not disabled): the
-- condition field `assignee.available`, so that a rule can hand an away agent's open tickets
-- back ("time" trigger, assignee.available is false -> unassign / assign_team). Same bodies
-- with one column appended; the result types change, so both are dropped and created again.
drop function rule_facts_batch(bigint[], bigint[]);
drop function rule_facts(bigint, bigint, boolean);
create function rule_facts(p_ticket bigint, p_message bigint, p_times boolean)
returns table (
    mailbox text, subject text, status text, priority text, assignee text, team text,
    tags text[], message_count integer, from_email text, to_addrs jsonb, cc_addrs jsonb,
    text_body text, automated text, has_attachment boolean, created_s float8,
    unassigned_s float8, status_s float8, customer_s float8, agent_s float8,
    fired_last_hour bigint,
    customer_vip boolean, customer_lifecycle_stage text, customer_company text,
    calendar_id bigint, assignee_available boolean)
language plpgsql stable
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
    return query
    select mb.address as mailbox, t.subject, t.status, t.priority, a.email as assignee, tm.name as team,
                array(select g.name from ticket_tag tt join tag g using (tag_id) where tt.ticket_id = t.ticket_id order by g.name) as tags,
                t.message_count, m.from_email, m.to_addrs, m.cc_addrs, m.text_body, m.automated,
                exists(select 1 from attachment x where x.message_id = m.message_id) as has_attachment,
                extract(epoch from now() - t.created_at)::float8 as created_s,
                case when p_times and t.assignee_agent_id is null then extract(epoch from now() - coalesce(
                    (select max(e.created_at) from ticket_event e where e.ticket_id = t.ticket_id and e.kind = 'assigned'),
                    t.created_at))::float8 end as unassigned_s,
                case when p_times then extract(epoch from now() - coalesce(
                    (select max(e.created_at) from ticket_event e where e.ticket_id = t.ticket_id and e.kind = 'status_changed'),
                    t.created_at))::float8 end as status_s,
                case when p_times then (select extract(epoch from now() - max(x.received_at))::float8 from message x
                   where x.ticket_id = t.ticket_id and x.direction = 'inbound') end as customer_s,
                case when p_times then (select extract(epoch from now() - max(x.created_at))::float8 from message x
                   where x.ticket_id = t.ticket_id and x.direction = 'outbound') end as agent_s,
                (select count(*) from ticket_event e where e.ticket_id = t.ticket_id and e.kind = 'rule_fired'
                   and e.created_at > now() - interval '1 hour') as fired_last_hour,
                case when cu.customer_id is not null then coalesce(cu.vip, co.vip, false) end as customer_vip,
                (select s.name from lifecycle_stage s
                   where s.lifecycle_stage_id = coalesce(cu.lifecycle_stage_id, co.lifecycle_stage_id)) as customer_lifecycle_stage,
                co.domain as customer_company,
                (select p.calendar_id from sla_policy p
                   where p.sla_policy_id = coalesce(t.sla_policy_id, mb.sla_policy_id)) as calendar_id,
                case when a.agent_id is not null then a.available and a.disabled_at is null end as assignee_available
         from ticket t
         join mailbox mb on mb.mailbox_id = t.mailbox_id
         left join agent a on a.agent_id = t.assignee_agent_id
         left join team tm on tm.team_id = t.team_id
         left join customer cu on cu.customer_id = t.customer_id
         left join company co on co.company_id = cu.company_id
                  left join message m on m.message_id = (select coalesce(p_message,
             (select max(x.message_id) from message x where x.ticket_id = p_ticket and x.direction = 'inbound')))
         where t.ticket_id = p_ticket;
end
$$;

create function rule_facts_batch(p_tickets bigint[], p_messages bigint[])
returns table (
    n bigint,
    mailbox text, subject text, status text, priority text, assignee text, team text,
    tags text[], message_count integer, from_email text, to_addrs jsonb, cc_addrs jsonb,
    text_body text, automated text, has_attachment boolean, created_s float8,
    unassigned_s float8, status_s float8, customer_s float8, agent_s float8,
    fired_last_hour bigint,
    customer_vip boolean, customer_lifecycle_stage text, customer_company text,
    calendar_id bigint, assignee_available boolean)
language sql stable
as $$
    select x.n, mb.address, t.subject, t.status, t.priority, a.email, tm.name,
           array(select g.name from ticket_tag tt join tag g using (tag_id)
                 where tt.ticket_id = t.ticket_id order by g.name),
           t.message_count, m.from_email, m.to_addrs, m.cc_addrs, m.text_body, m.automated,
           exists(select 1 from attachment z where z.message_id = m.message_id),
           extract(epoch from now() - t.created_at)::float8,
           null::float8, null::float8, null::float8, null::float8,
           (select count(*) from ticket_event e where e.ticket_id = t.ticket_id
              and e.kind = 'rule_fired' and e.created_at > now() - interval '1 hour'),
           case when cu.customer_id is not null then coalesce(cu.vip, co.vip, false) end,
           (select s.name from lifecycle_stage s
              where s.lifecycle_stage_id = coalesce(cu.lifecycle_stage_id, co.lifecycle_stage_id)),
           co.domain,
           (select p.calendar_id from sla_policy p
              where p.sla_policy_id = coalesce(t.sla_policy_id, mb.sla_policy_id)),
           case when a.agent_id is not null then a.available and a.disabled_at is null end
    from unnest(p_tickets, p_messages) with ordinality as x(tid, mid, n)
    join ticket t on t.ticket_id = x.tid
    join mailbox mb on mb.mailbox_id = t.mailbox_id
    left join agent a on a.agent_id = t.assignee_agent_id
    left join team tm on tm.team_id = t.team_id
    left join customer cu on cu.customer_id = t.customer_id
    left join company co on co.company_id = cu.company_id
    left join message m on m.message_id = coalesce(x.mid,
        (select max(z.message_id) from message z where z.ticket_id = x.tid and z.direction = 'inbound'))
$$;
