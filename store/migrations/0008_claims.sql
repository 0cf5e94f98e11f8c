-- An outbox row's claim names the runner (process) that holds it. Claims are short leases that
-- the holder's heartbeat renews while the work runs, so a replica that dies (kill -9) leaves its
-- work to the others within seconds; an effect that legitimately runs long keeps its claim.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
