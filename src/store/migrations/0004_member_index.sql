-- Look-ups of a resource's groups (GET /Users/{id}, deletes) seek by member; a covering
-- index keeps the planner from preferring a scan of the primary key by provider.
DROP INDEX members_by_member;
CREATE INDEX members_by_member ON members (provider, member_id, group_id);
