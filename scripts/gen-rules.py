#!/usr/bin/env python3
"""Prints SQL inserting N enabled routing rules for scripts/bench-ingest --rules N.

A realistic mix, fixed (no randomness): most rules look at the subject, the sender's domain or
the body and rarely match; every tenth uses a regular expression; a few match common words and
fire (add a tag, set a priority), so firing costs are measured too. Triggers: ticket_created
(70%) and customer_replied (30%)."""
import json
import sys

n = int(sys.argv[1])
words = ["invoice", "refund", "password", "export", "shipping", "billing", "login", "seat",
         "delivery", "payment", "plan", "browser", "server", "report", "account", "error"]
rows = []
for i in range(n):
    w = words[i % len(words)]
    kind = i % 10
    if kind == 0:
        cond = {"field": "subject", "op": "matches", "value": rf"\b{w}\s+(#|no\.?)\s*\d+"}
    elif kind in (1, 2):
        cond = {"field": "from", "op": "is", "value": f"@customer{i}.example"}
    elif kind == 3:
        cond = {"field": "body", "op": "contains", "value": f"{w} number {i}"}
    elif kind == 4:
        cond = {"any": [{"field": "subject", "op": "starts_with", "value": f"{w} urgent"},
                        {"field": "tags", "op": "contains", "value": f"vip-{i}"}]}
    elif kind == 5:
        # fires on mail whose subject has the word (common in the generated mail)
        cond = {"field": "subject", "op": "contains", "value": w}
    else:
        cond = {"field": "subject", "op": "contains", "value": f"{w}-{i}"}
    conditions = {"all": [cond, {"field": "automated", "op": "is", "value": "none"}]}
    if kind == 5:
        actions = [{"type": "add_tag", "tag": f"topic-{w}"}]
    elif kind == 4:
        actions = [{"type": "set_priority", "priority": "high"}]
    else:
        actions = [{"type": "add_tag", "tag": f"rule-{i}"}]
    trigger = "customer_replied" if i % 10 in (7, 8, 9) else "ticket_created"
    rows.append((i + 1, f"bench rule {i}", trigger, json.dumps(conditions), json.dumps(actions)))

print("begin;")
for pos, name, trigger, conds, acts in rows:
    q = lambda s: "'" + s.replace("'", "''") + "'"
    print("insert into rule (position, name, trigger, conditions, actions, mode) values "
          f"({pos}, {q(name)}, {q(trigger)}, {q(conds)}::jsonb, {q(acts)}::jsonb, 'once_per_ticket');")
print("commit;")
