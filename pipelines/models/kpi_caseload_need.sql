-- EHC plan caseload by primary need: the plans active on the SEN2 census day (calendar_year,
-- the census in January of that year) or at the month end (month), as the DfE's 'EHC plans
-- by primary need', beside the DfE's published figures.
WITH snaps AS (
    SELECT c.*, g.geography_level, g.geography_code,
           CASE WHEN c.snapshot_type = 'month_end' THEN 'month' ELSE 'calendar_year' END AS period_type,
           CASE WHEN c.snapshot_type = 'month_end' THEN CAST(date_trunc('month', c.snapshot_date) AS DATE)
                ELSE CAST(date_trunc('year', c.snapshot_date) AS DATE) END AS period_start
    FROM fact_caseload c
    JOIN child_geography g ON g.person_key = c.person_key AND g.la_code = c.la_code
),
totals AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, count(*) AS caseload_total
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
by_dim AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, COALESCE(primary_need, 'unknown') AS primary_need, count(*) AS ehc_plans
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, primary_need
),
local_rows AS (
    SELECT b.period_type, b.period_start, b.geography_level, b.geography_code, b.la_code,
           b.source_system AS source, b.primary_need,
           b.ehc_plans, t.caseload_total
    FROM by_dim b
    JOIN totals t
      ON t.period_type = b.period_type AND t.period_start = b.period_start
     AND t.geography_level = b.geography_level AND t.geography_code = b.geography_code
     AND t.la_code = b.la_code AND t.source_system = b.source_system
),
-- The DfE's 'EHC plans by primary need': number_<need> columns become rows; ehc_plans is the total.
dfe_long AS (
    SELECT f.*
    FROM dfe_figure f
    WHERE f.filter_key = ''
      AND (f.indicator = 'ehc_plans' OR starts_with(f.indicator, 'number_'))
      AND f.data_set_id IN (SELECT DISTINCT data_set_id FROM dfe_figure WHERE starts_with(indicator, 'number_'))
),
dfe_rows AS (
    SELECT n.period_type, n.period_start, n.geography_level, n.geography_code, n.la_code,
           'dfe_published' AS source,
           CASE WHEN n.indicator = 'number_need_unknown' THEN 'unknown' ELSE upper(substr(n.indicator, 8)) END AS primary_need,
           CAST(n.value AS BIGINT) AS ehc_plans, CAST(t.value AS BIGINT) AS caseload_total
    FROM dfe_long n
    LEFT JOIN dfe_long t
      ON t.indicator = 'ehc_plans' AND t.period_start = n.period_start
     AND t.geography_level = n.geography_level AND t.geography_code = n.geography_code
    WHERE starts_with(n.indicator, 'number_')
),
all_rows AS (
    SELECT * FROM local_rows
    UNION ALL
    SELECT * FROM dfe_rows
)
SELECT period_type, period_start, geography_level, geography_code, la_code, source, primary_need, ehc_plans, caseload_total,
       100.0 * ehc_plans / NULLIF(caseload_total, 0) AS ehc_plans_pc,
       -- A snapshot is whole by construction (see the column's description).
       TRUE AS period_complete
FROM all_rows
