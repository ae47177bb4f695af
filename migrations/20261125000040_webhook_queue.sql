-- Deliveries are stored as 'pending' when they arrive and applied in batches in the background.
-- 'stale' records a delivery that was applied but carried nothing newer than what was stored
-- (a duplicate event under another webhook-id, or one that arrived after a newer version).
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
    CHECK (status IN ('pending', 'applied', 'stale', 'ignored', 'failed'));

-- The applier claims the oldest pending deliveries first.
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE status = 'pending';
