-- citus.sql - distributes a loyal database's tables over a Citus cluster, by member.
--
-- Run it once on the coordinator, after the library has created its schema (open the database
-- once with LOYAL_OPEN_CREATE) and before the program takes traffic:
--
--   psql "postgresql://coordinator/loyal" -f examples/citus.sql
--
-- Every member-owned table leads its key with member_id and is distributed by it, co-located
-- with members, so that a call about one member (an event, a credit, a read) runs on one shard.
-- The host's ids (member_keys) are distributed by the host's id. The program's tables are small
-- reference tables, copied to every node.
SET search_path TO loyal;

SELECT create_reference_table('meta');
SELECT create_reference_table('program_versions');
SELECT create_reference_table('currencies');
SELECT create_reference_table('rules');
-- A reward's stock is one row that every redeemer of the reward locks: a reference table.
SELECT create_reference_table('reward_stock');
-- A rule's budget is what all members' awards of it used: a reference table too.
SELECT create_reference_table('rule_budgets');
-- The outbox is one feed in commit order across all members: its positions come from the one
-- row of outbox_head, whose lock each transaction with happenings takes at its commit. It and
-- its consumers' positions are reference tables; a transaction that announces anything is
-- then a distributed one (programs that announce every posting make that most of them).
SELECT create_reference_table('outbox');
SELECT create_reference_table('outbox_head');
SELECT create_reference_table('outbox_consumers');

SELECT create_distributed_table('member_keys', 'external_id');
SELECT create_distributed_table('members', 'id');

SELECT create_distributed_table('balances', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('txns', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('entries', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('lots', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('moves', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('holds', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('idem', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('events', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activity', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activity_sums', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('rule_counters', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('tier_history', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_members', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_changes', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('badge_awards', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('tier_assignments', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('notices_sent', 'member_id', colocate_with => 'members');
-- A leaderboard's top rows are read across shards (each shard's top, merged by the coordinator).
SELECT create_distributed_table('board_scores', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('redemptions', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('coupon_reservations', 'member_id', colocate_with => 'members');
-- Coupon codes are found by the code itself (a checkout knows the code, and a code is unique
-- across members), so they are distributed by it.
SELECT create_distributed_table('coupon_codes', 'code');

-- A redemption of a stocked reward writes the reward's stock (a reference table, written on
-- every node) with the member's shard; issuing a coupon writes the code's shard; both are
-- distributed transactions. Drawing from a coupon's pool reads across the shards of codes.
-- What spans members: a transfer (its two legs lock and write both members' rows) and a
-- referral award (an event of one member that credits another) run as distributed
-- transactions, which Citus commits on every shard they touch with two-phase commit. Sweeps,
-- segment refreshes, reports and loyal_verify read across shards. A new member is written to
-- two tables of different distribution (members and member_keys), also in one distributed
-- transaction. loyal_verify joins some tables on other columns than member_id (a posting to the
-- event of another member): the database lets Citus repartition those joins.
DO $$ BEGIN
	EXECUTE format('ALTER DATABASE %I SET citus.enable_repartition_joins = on', current_database());
END $$;
