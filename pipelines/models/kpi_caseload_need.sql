-- EHC plan caseload by primary need: the plans active on the SEN2 census day (calendar_year,
-- the census in January of that year) or at the month end (month), as the DfE's 'EHC plans
-- by primary need', beside the DfE's published figures.
-- caseload_total: the needs of an area and period add up to its caseload.
WITH local_rows AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source, COALESCE(primary_need, 'unknown') AS primary_need,
           count(*) AS ehc_plans,
           sum(count(*)) OVER (PARTITION BY period_type, period_start, geography_level, geography_code, la_code, source_system) AS caseload_total
    FROM caseload_snapshot
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, primary_need
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
