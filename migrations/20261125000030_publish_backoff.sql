-- A failed publication waits before its next attempt, so an outage of the sink is not hammered.
ALTER TABLE publish_outbox ADD COLUMN next_attempt_at timestamptz;
