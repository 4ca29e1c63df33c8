-- strata 0.1.0: features and segments, bigquery dialect.
-- Reads accounts, events, revenue; one row per account. The as-of date is the one parameter: edit it in `params`.
-- Per-event features are the 15 most common events of the data this was generated from.
WITH params AS (
  SELECT DATE '2026-10-31' AS as_of
),
p AS (
  SELECT UNIX_DATE(DATE(as_of)) AS d, (EXTRACT(YEAR FROM as_of) * 12 + EXTRACT(MONTH FROM as_of)) AS m FROM params
),
ev AS (
  SELECT CAST(e.`account_id` AS STRING) AS account_id, CAST(e.`user_id` AS STRING) AS user_id, CAST(e.`event` AS STRING) AS event, UNIX_DATE(DATE(e.`ts`)) AS day, CAST(e.`source` AS STRING) AS source
  FROM events e CROSS JOIN p
  WHERE UNIX_DATE(DATE(e.`ts`)) <= p.d
),
by_day AS (
  SELECT account_id, day, COUNT(*) AS n,
    SUM(CASE WHEN source IN ('api', 'integration') THEN 1 ELSE 0 END) AS n_api
  FROM ev GROUP BY account_id, day
),
day_f AS (
  SELECT account_id,
    SUM(CASE WHEN day > p.d - 7 THEN n ELSE 0 END) AS events_7d,
    SUM(CASE WHEN day > p.d - 28 THEN n ELSE 0 END) AS events_28d,
    SUM(CASE WHEN day > p.d - 90 THEN n ELSE 0 END) AS events_90d,
    SUM(CASE WHEN day > p.d - 7 THEN 1 ELSE 0 END) AS active_days_7d,
    SUM(CASE WHEN day > p.d - 28 THEN 1 ELSE 0 END) AS active_days_28d,
    SUM(CASE WHEN day > p.d - 90 THEN 1 ELSE 0 END) AS active_days_90d,
    SUM(CASE WHEN day > p.d - 56 AND day <= p.d - 28 THEN n ELSE 0 END) AS events_prev_28d,
    SUM(n) AS events_total,
    SUM(n_api) AS api_total,
    SUM(CASE WHEN day > p.d - 28 THEN n_api ELSE 0 END) AS api_28d,
    MAX(day) AS last_day
  FROM by_day CROSS JOIN p GROUP BY account_id
),
by_user AS (
  SELECT account_id, user_id, MAX(day) AS last_day
  FROM ev WHERE user_id IS NOT NULL GROUP BY account_id, user_id
),
user_f AS (
  SELECT account_id,
    SUM(CASE WHEN last_day > p.d - 7 THEN 1 ELSE 0 END) AS users_7d,
    SUM(CASE WHEN last_day > p.d - 28 THEN 1 ELSE 0 END) AS users_28d,
    SUM(CASE WHEN last_day > p.d - 90 THEN 1 ELSE 0 END) AS users_90d
  FROM by_user CROSS JOIN p GROUP BY account_id
),
by_event AS (
  SELECT account_id, event, MAX(day) AS last_day,
    SUM(CASE WHEN day > p.d - 28 THEN 1 ELSE 0 END) AS n_28d
  FROM ev CROSS JOIN p GROUP BY account_id, event
),
event_f AS (
  SELECT account_id,
    COUNT(*) AS distinct_events,
    SUM(CASE WHEN last_day > p.d - 7 THEN 1 ELSE 0 END) AS distinct_events_7d,
    SUM(CASE WHEN last_day > p.d - 28 THEN 1 ELSE 0 END) AS distinct_events_28d,
    SUM(CASE WHEN last_day > p.d - 90 THEN 1 ELSE 0 END) AS distinct_events_90d,
    SUM(CASE WHEN event = 'integration_connected' THEN n_28d ELSE 0 END) AS `event_integration_connected_28d`,
    SUM(CASE WHEN event = 'report_viewed' THEN n_28d ELSE 0 END) AS `event_report_viewed_28d`,
    SUM(CASE WHEN event = 'task_created' THEN n_28d ELSE 0 END) AS `event_task_created_28d`,
    SUM(CASE WHEN event = 'api_call' THEN n_28d ELSE 0 END) AS `event_api_call_28d`,
    SUM(CASE WHEN event = 'login' THEN n_28d ELSE 0 END) AS `event_login_28d`
  FROM by_event CROSS JOIN p GROUP BY account_id
),
signup AS (
  SELECT CAST(a.`account_id` AS STRING) AS account_id, UNIX_DATE(DATE(a.`created_at`)) AS created_day FROM accounts a
),
adopt_f AS (
  SELECT b.account_id, COUNT(*) AS active_days_first_30d, SUM(b.n) AS events_first_30d
  FROM by_day b JOIN signup s ON s.account_id = b.account_id
  WHERE b.day >= s.created_day AND b.day < s.created_day + 30
  GROUP BY b.account_id
),
custom_f AS (
  SELECT ev.account_id,
    COUNT(DISTINCT CASE WHEN (`source` = 'app') AND ev.day > p.d - 90 THEN ev.`user_id` END) AS `app_users_90d`,
    SUM(CASE WHEN (`event` = 'integration_connected') AND ev.day >= s.created_day AND ev.day < s.created_day + 60 THEN 1 ELSE 0 END) AS `integrations_60d`,
    SUM(CASE WHEN (`event` = 'task_created') AND ev.day > p.d - 28 THEN 1 ELSE 0 END) AS `tasks_28d`
  FROM ev JOIN signup s ON s.account_id = ev.account_id CROSS JOIN p
  GROUP BY ev.account_id
),
rev_f AS (
  SELECT CAST(r.`account_id` AS STRING) AS account_id,
    MAX(CASE WHEN (EXTRACT(YEAR FROM r.`month`) * 12 + EXTRACT(MONTH FROM r.`month`)) = p.m THEN r.`mrr` END) AS mrr_now,
    MAX(CASE WHEN (EXTRACT(YEAR FROM r.`month`) * 12 + EXTRACT(MONTH FROM r.`month`)) = p.m - 12 THEN r.`mrr` END) AS mrr_ago
  FROM revenue r CROSS JOIN p GROUP BY CAST(r.`account_id` AS STRING)
),
base AS (
  SELECT
    CAST(a.`account_id` AS STRING) AS `account_id`,
    DATE_FROM_UNIX_DATE(s.created_day) AS `created_at`,
    CASE WHEN TRIM(a.`name`) = '' THEN NULL ELSE a.`name` END AS `name`,
    a.`employees` AS `employees`,
    CASE WHEN TRIM(a.`industry`) = '' THEN NULL ELSE a.`industry` END AS `industry`,
    CASE WHEN TRIM(a.`country`) = '' THEN NULL ELSE a.`country` END AS `country`,
    CASE WHEN TRIM(a.`plan`) = '' THEN NULL ELSE a.`plan` END AS `plan`,
    CASE WHEN TRIM(a.`owner`) = '' THEN NULL ELSE a.`owner` END AS `owner`,
    a.`seats` AS `seats`,
    p.d - s.created_day AS `days_since_signup`,
    COALESCE(r.mrr_now, 0) AS `mrr`,
    12 * COALESCE(r.mrr_now, 0) AS `arr`,
    COALESCE(r.mrr_ago, 0) AS `mrr_12m_ago`,
    CASE WHEN r.mrr_ago > 0 THEN CAST(COALESCE(r.mrr_now, 0) AS FLOAT64) / r.mrr_ago - 1 END AS `mrr_growth_12m`,
    COALESCE(d.events_7d, 0) AS `events_7d`,
    COALESCE(d.events_28d, 0) AS `events_28d`,
    COALESCE(d.events_90d, 0) AS `events_90d`,
    COALESCE(d.active_days_7d, 0) AS `active_days_7d`,
    COALESCE(d.active_days_28d, 0) AS `active_days_28d`,
    COALESCE(d.active_days_90d, 0) AS `active_days_90d`,
    COALESCE(u.users_7d, 0) AS `users_7d`,
    COALESCE(u.users_28d, 0) AS `users_28d`,
    COALESCE(u.users_90d, 0) AS `users_90d`,
    COALESCE(v.distinct_events, 0) AS `distinct_events`,
    COALESCE(v.distinct_events_7d, 0) AS `distinct_events_7d`,
    COALESCE(v.distinct_events_28d, 0) AS `distinct_events_28d`,
    COALESCE(v.distinct_events_90d, 0) AS `distinct_events_90d`,
    CASE WHEN d.events_total > 0 THEN CAST(d.api_total AS FLOAT64) / CAST(d.events_total AS FLOAT64) END AS `api_share`,
    CASE WHEN d.events_28d > 0 THEN CAST(d.api_28d AS FLOAT64) / CAST(d.events_28d AS FLOAT64) END AS `api_share_28d`,
    p.d - d.last_day AS `days_since_last_event`,
    CASE WHEN d.events_prev_28d > 0 THEN CAST(d.events_28d AS FLOAT64) / CAST(d.events_prev_28d AS FLOAT64) END AS `trend_28d`,
    COALESCE(d.events_total, 0) AS `events_total`,
    COALESCE(t.active_days_first_30d, 0) AS `active_days_first_30d`,
    COALESCE(t.events_first_30d, 0) AS `events_first_30d`,
    COALESCE(v.`event_integration_connected_28d`, 0) AS `event_integration_connected_28d`,
    COALESCE(v.`event_report_viewed_28d`, 0) AS `event_report_viewed_28d`,
    COALESCE(v.`event_task_created_28d`, 0) AS `event_task_created_28d`,
    COALESCE(v.`event_api_call_28d`, 0) AS `event_api_call_28d`,
    COALESCE(v.`event_login_28d`, 0) AS `event_login_28d`,
    COALESCE(c.`app_users_90d`, 0) AS `app_users_90d`,
    COALESCE(c.`integrations_60d`, 0) AS `integrations_60d`,
    COALESCE(c.`tasks_28d`, 0) AS `tasks_28d`
  FROM accounts a
  CROSS JOIN p
  JOIN signup s ON s.account_id = CAST(a.`account_id` AS STRING)
  LEFT JOIN day_f d ON d.account_id = s.account_id
  LEFT JOIN user_f u ON u.account_id = s.account_id
  LEFT JOIN event_f v ON v.account_id = s.account_id
  LEFT JOIN adopt_f t ON t.account_id = s.account_id
  LEFT JOIN custom_f c ON c.account_id = s.account_id
  LEFT JOIN rev_f r ON r.account_id = s.account_id
),
features AS (
  SELECT
    `account_id`,
    `created_at`,
    `name`,
    `employees`,
    `industry`,
    `country`,
    `plan`,
    `owner`,
    `seats`,
    `days_since_signup`,
    `mrr`,
    `arr`,
    `mrr_12m_ago`,
    `mrr_growth_12m`,
    `events_7d`,
    `events_28d`,
    `events_90d`,
    `active_days_7d`,
    `active_days_28d`,
    `active_days_90d`,
    `users_7d`,
    `users_28d`,
    `users_90d`,
    `distinct_events`,
    `distinct_events_7d`,
    `distinct_events_28d`,
    `distinct_events_90d`,
    `api_share`,
    `api_share_28d`,
    `days_since_last_event`,
    `trend_28d`,
    `events_total`,
    `active_days_first_30d`,
    `events_first_30d`,
    `event_integration_connected_28d`,
    `event_report_viewed_28d`,
    `event_task_created_28d`,
    `event_api_call_28d`,
    `event_login_28d`,
    `app_users_90d`,
    `integrations_60d`,
    `tasks_28d`,
    CASE WHEN `users_28d` > 0 THEN CAST(`events_28d` AS FLOAT64) / CAST(`users_28d` AS FLOAT64) END AS `events_per_user_28d`
  FROM base
)
SELECT
    features.*,
    CASE
      WHEN least(coalesce(`employees`, `seats`), coalesce(`seats`, `employees`)) > 3 OR greatest(coalesce(`employees`, `seats`), coalesce(`seats`, `employees`)) < 9 THEN 'least-greatest-null'
      WHEN round(CAST(`employees` AS FLOAT64) / nullif(CAST(4 AS FLOAT64), 0.0)) = 13 OR round(`employees` * 0.25, 1) = 12.5 THEN 'round-half'
      WHEN `name` LIKE '100\\% a\\_b%' THEN 'like-escape'
      WHEN lower(`name`) LIKE lower('ac%') THEN 'ilike'
      WHEN CAST(`employees` AS FLOAT64) / nullif(CAST(`seats` AS FLOAT64), 0.0) > 2.5 THEN 'division'
      WHEN MOD(CAST(`employees` AS DECIMAL(38,9)), CAST(nullif(7, 0) AS DECIMAL(38,9))) = -1 OR MOD(CAST((CAST(`employees` AS FLOAT64) / nullif(CAST(4 AS FLOAT64), 0.0)) AS DECIMAL(38,9)), CAST(nullif(2, 0) AS DECIMAL(38,9))) = 0.5 THEN 'modulo'
      WHEN `employees` * MOD(CAST(`seats` AS DECIMAL(38,9)), CAST(nullif(3, 0) AS DECIMAL(38,9))) > 1 THEN 'precedence'
      WHEN ltrim(rtrim(`name`)) = 'Acme' THEN 'trim'
      WHEN `created_at` >= CAST('2025-06-01' AS DATE) AND `created_at` < CAST('2026-01-01 12:00:00' AS TIMESTAMP) THEN 'dates'
    END AS `semantics`
FROM features
ORDER BY account_id;
