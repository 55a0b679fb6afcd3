-- Customers and companies (src/customers): companies found from the sender's domain, and the
-- account attributes VIP, lifecycle stage and health score on both.

-- Lifecycle stages, in the order they are offered. Admins rename and add stages (Admin →
-- Lifecycle stages); `builtin` names the seeded stages for code that needs one of them
-- whatever it is called now (the "At-risk accounts" view follows `at_risk`).
create table lifecycle_stage (
    lifecycle_stage_id  bigint generated always as identity primary key,
    name                text not null,
    builtin             text unique,
    position            integer not null,
    created_at          timestamptz not null default now()
);
create unique index lifecycle_stage_name_key on lifecycle_stage (lower(name));
insert into lifecycle_stage (name, builtin, position) values
    ('onboarding', 'onboarding', 1),
    ('active', 'active', 2),
    ('renewal', 'renewal', 3),
    ('at risk', 'at_risk', 4),
    ('churned', 'churned', 5);

-- A company is a mail domain (stored lower-case). Its VIP flag, stage and health are what its
-- customers have unless they have their own.
create table company (
    company_id          bigint generated always as identity primary key,
    domain              text not null check (domain = lower(domain) and domain <> ''),
    name                text not null,
    vip                 boolean not null default false,
    lifecycle_stage_id  bigint references lifecycle_stage,
    -- 0-100; null = not scored
    health              smallint check (health between 0 and 100),
    created_at          timestamptz not null default now()
);
create unique index company_domain_key on company (domain);
create index company_lifecycle_stage_idx on company (lifecycle_stage_id) where lifecycle_stage_id is not null;
create index company_vip_idx on company (company_id) where vip;

-- A customer's own attributes; null = take the company's (see customers::Customer).
-- company_id starts as the company of the address's domain (none for free-mail providers)
-- and may be changed or cleared by hand.
alter table customer
    add column company_id          bigint references company on delete set null,
    add column vip                 boolean,
    add column lifecycle_stage_id  bigint references lifecycle_stage,
    add column health              smallint check (health between 0 and 100),
    -- what agents know about this customer (the customer page)
    add column notes               text not null default '';
-- Full, not partial: the inbox's VIP and stage filters look customers up by company one
-- company at a time (tickets::inbox), and a partial index is not used for that lookup.
create index customer_company_idx on customer (company_id);
create index customer_lifecycle_stage_idx on customer (lifecycle_stage_id) where lifecycle_stage_id is not null;
create index customer_vip_idx on customer (customer_id) where vip is not null;

-- The inbox views and filters by VIP and stage probe open tickets by customer, once per
-- customer with the attribute: this index holds open tickets only, so each probe is cheap.
create index ticket_open_customer_idx on ticket (customer_id) where status = 'open' and not spam;

-- Existing customers get their domain's company. The free-mail list is
-- src/customers/company.rs FREE_MAIL as it was when this migration was written; new
-- customers are handled in Rust (tickets::messages::open_ticket).
insert into company (domain, name)
select distinct d, d
from (select lower(substring(email from '@([^@]+)$')) as d from customer) x
where d is not null and d not in ('gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com',
    'live.com', 'yahoo.com', 'icloud.com', 'me.com', 'gmx.de', 'gmx.net', 'web.de', 'proton.me')
on conflict do nothing;
update customer c set company_id = co.company_id
from company co where co.domain = lower(substring(c.email from '@([^@]+)$'));
