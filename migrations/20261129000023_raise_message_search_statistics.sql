-- Search chooses between the GIN index (rare words) and a newest-first walk that stops after
-- 2000 matches (common words) from the planner's estimate of how common a word is. With the
-- default statistics target a word missing from the most-common list was estimated at
-- ~16,000 messages at 1M tickets (actual: 541), which can send a rare word down the walk
-- over every message. A target of 1000 keeps ten times more words and lowers the estimate
-- for the rest to ~1,000. Takes effect at the next ANALYZE (autovacuum, or frontdesk seed).
alter table message alter column search set statistics 1000;
