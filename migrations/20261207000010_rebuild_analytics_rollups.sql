-- Rebuilds every analytics rollup from the stored objects in a few set-based statements: after
-- a bulk import made with the rollups' triggers disabled, or to repair them. The triggers keep
-- the same rows a write at a time; a database of 100 000 customers rebuilds in seconds, where
-- rewriting them a customer at a time takes minutes.
--
-- Writers of subscriptions, orders and refunds wait until the rebuild commits, so none of
-- their changes is lost between the truncation and the new rows.
CREATE FUNCTION rebuild_analytics_rollups() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE subscription_versions, orders, refunds IN SHARE MODE;
    TRUNCATE mrr_changes, mrr_product_changes, mrr_product_daily, mrr_customers, revenue_daily;
    PERFORM record_mrr_changes(ARRAY(SELECT DISTINCT customer_id FROM subscription_versions));
    INSERT INTO revenue_daily (day, currency, succeeded, gross_revenue, refunds, refund_count)
    SELECT day, currency, sum(succeeded), sum(gross_revenue), sum(refunds), sum(refund_count)
    FROM (SELECT (o.created_at AT TIME ZONE 'UTC')::date AS day, o.currency, 1 AS succeeded,
                 coalesce(o.net_amount, 0) AS gross_revenue, 0 AS refunds, 0 AS refund_count
          FROM orders o WHERE order_counts(o)
          UNION ALL
          SELECT (r.created_at AT TIME ZONE 'UTC')::date, r.currency, 0, 0, r.amount, 1
          FROM refunds r WHERE r.status = 'succeeded' AND r.created_at IS NOT NULL) f
    GROUP BY day, currency;
END $$;
