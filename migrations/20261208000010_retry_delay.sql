-- The wait before the next attempt of anything delivered through an outbox or retried from an
-- inbox: `first` after the first failure, doubling with each one, never more than `cap`. The
-- exponent stops at 12 so that the power cannot overflow an interval whatever the count.
-- `attempts` is the count before the failure being recorded.
CREATE FUNCTION retry_delay(attempts integer, first interval, cap interval) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN least(cap, first * power(2, least(attempts, 12)));
