-- Children waiting for community health services at each month end (month) and year end
-- (calendar_year), by weeks waited in the NHS CHS SitRep bands: NHS England's published
-- provider figures (nhs_published, by ICB) beside the waits computed here from the
-- provider's referrals (a referral waits from its date until first contact).
WITH month_ends AS (
    SELECT date FROM dim_date WHERE is_month_end AND date <= CURRENT_DATE
),
open_referrals AS (
    SELECT r.*, d.date AS snapshot_date, CAST(d.date - r.referral_date AS INT) AS waited_days
    FROM fact_health_referral r
    JOIN month_ends d
      ON r.referral_date <= d.date
     AND (r.first_contact_date IS NULL OR r.first_contact_date > d.date)
     AND (r.discharge_date IS NULL OR r.discharge_date > d.date)
),
placed AS (
    SELECT o.*, g.geography_level, g.geography_code, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', o.snapshot_date) AS DATE)
                ELSE CAST(date_trunc('year', o.snapshot_date) AS DATE) END AS period_start
    FROM open_referrals o
    JOIN child_geography g ON g.person_key = o.person_key AND g.la_code = o.la_code
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
    WHERE t.period_type = 'month' OR extract(month FROM o.snapshot_date) = 12
),
local_rows AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           'nhs_community' AS source, service_line,
           sum(CASE WHEN waited_days >= 0 AND waited_days < 7 THEN 1 ELSE 0 END) AS waiting_0_1_weeks,
           sum(CASE WHEN waited_days >= 7 AND waited_days < 14 THEN 1 ELSE 0 END) AS waiting_1_2_weeks,
           sum(CASE WHEN waited_days >= 14 AND waited_days < 28 THEN 1 ELSE 0 END) AS waiting_2_4_weeks,
           sum(CASE WHEN waited_days >= 28 AND waited_days < 84 THEN 1 ELSE 0 END) AS waiting_4_12_weeks,
           sum(CASE WHEN waited_days >= 84 AND waited_days < 126 THEN 1 ELSE 0 END) AS waiting_12_18_weeks,
           sum(CASE WHEN waited_days >= 126 AND waited_days < 364 THEN 1 ELSE 0 END) AS waiting_18_52_weeks,
           sum(CASE WHEN waited_days >= 364 THEN 1 ELSE 0 END) AS waiting_over_52_weeks,
           count(*) AS waiting_total
    FROM placed
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, service_line
),
published AS (
    SELECT t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', w.period_end) AS DATE)
                ELSE CAST(date_trunc('year', w.period_end) AS DATE) END AS period_start,
           'icb' AS geography_level, COALESCE(w.icb_code, 'unknown') AS geography_code,
           CAST(NULL AS VARCHAR) AS la_code, 'nhs_published' AS source, w.service_line,
           sum(w.waiting_0_1_weeks) AS waiting_0_1_weeks, sum(w.waiting_1_2_weeks) AS waiting_1_2_weeks,
           sum(w.waiting_2_4_weeks) AS waiting_2_4_weeks, sum(w.waiting_4_12_weeks) AS waiting_4_12_weeks,
           sum(w.waiting_12_18_weeks) AS waiting_12_18_weeks, sum(w.waiting_18_52_weeks) AS waiting_18_52_weeks,
           sum(w.waiting_over_52_weeks) AS waiting_over_52_weeks, sum(w.waiting_total) AS waiting_total
    FROM health_waits w
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
    WHERE t.period_type = 'month' OR extract(month FROM w.period_end) = 12
    GROUP BY 1, 2, 3, 4, 5, 6, 7
),
u AS (
    SELECT * FROM local_rows UNION ALL SELECT * FROM published
)
SELECT u.*,
       waiting_18_52_weeks + waiting_over_52_weeks AS waiting_over_18_weeks,
       100.0 * (waiting_18_52_weeks + waiting_over_52_weeks) / NULLIF(waiting_total, 0) AS pc_waiting_over_18_weeks,
       100.0 * waiting_over_52_weeks / NULLIF(waiting_total, 0) AS pc_waiting_over_52_weeks,
       -- A snapshot is whole by construction (see the column's description).
       TRUE AS period_complete
FROM u
