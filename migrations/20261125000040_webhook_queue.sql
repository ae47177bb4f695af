-- Deliveries are stored as 'pending' when they arrive and applied in batches in the background.
-- 'stale' records a delivery that was applied but carried nothing newer than what was stored
-- (a duplicate event under another webhook-id, or one that arrived after a newer version).
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
    CHECK (status IN ('pending', 'applied', 'stale', 'ignored', 'failed'));

-- Deliveries are applied in lanes by customer; a lane that fell behind catches up from here,
-- oldest first. Retries look only at failed deliveries, so their index need not hold every
-- delivery on its way in.
ALTER TABLE webhook_events ADD COLUMN lane smallint;
CREATE INDEX webhook_events_pending ON webhook_events (lane, id) WHERE status = 'pending';
DROP INDEX webhook_events_due;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'failed';

-- A delivery is kept as the exact bytes Polar signed (jsonb would reorder keys and drop
-- whitespace, so the signature could no longer be checked against it), and storing text
-- spares PostgreSQL a JSON parse per delivery on the path to the answer.
ALTER TABLE webhook_events ALTER COLUMN payload TYPE text USING payload::text;
-- Out of line and uncompressed: marking a delivery applied then writes a small row instead of
-- copying its payload again.
ALTER TABLE webhook_events ALTER COLUMN payload SET STORAGE EXTERNAL;
