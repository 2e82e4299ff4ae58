-- sendlake's own figure beside the DfE's published one, for every LA and calendar year where
-- both exist, per KPI column that carries a DfE name (docs/kpi-definitions.md,
-- "Reconciliation with the DfE"). Our SEN2-computed figures follow the DfE's definitions, so a
-- difference beyond the column's tolerance means a definition drifted, a return the DfE used
-- is not the one loaded here, or the DfE revised its figure: the warn check in checks.toml
-- reports it the night it appears.
--
-- The tolerances are this pipeline's choice (edit them here): counts must agree exactly;
-- percentages within 0.05 points, because the DfE publishes them to one decimal place.
-- Only whole years are compared (period_complete): the DfE's year is whole, and ours for the
-- year before the earliest return or the census year holds only part of it.
WITH tolerances AS (
    SELECT * FROM (VALUES ('count', 0.0), ('percentage', 0.05)) AS t(kind, tolerance)
),
t AS (
    SELECT * FROM kpi_timeliness
    WHERE period_type = 'calendar_year' AND geography_level = 'la' AND source IN ('sen2', 'dfe_published')
      AND period_complete
),
r AS (
    SELECT * FROM kpi_requests
    WHERE period_type = 'calendar_year' AND geography_level = 'la' AND source IN ('sen2', 'dfe_published')
      AND period_complete
),
figures AS (
    SELECT 'kpi_timeliness' AS kpi_table, 'plans_issued_den' AS kpi_column, 'count' AS kind, period_start, la_code, source, CAST(plans_issued_den AS DOUBLE) AS value FROM t
    UNION ALL SELECT 'kpi_timeliness', 'plans_issued_den_ex', 'count', period_start, la_code, source, CAST(plans_issued_den_ex AS DOUBLE) FROM t
    UNION ALL SELECT 'kpi_timeliness', 'plans_issued_within_20_weeks', 'count', period_start, la_code, source, CAST(plans_issued_within_20_weeks AS DOUBLE) FROM t
    UNION ALL SELECT 'kpi_timeliness', 'plans_issued_20_weeks_ex', 'count', period_start, la_code, source, CAST(plans_issued_20_weeks_ex AS DOUBLE) FROM t
    UNION ALL SELECT 'kpi_timeliness', 'pc_plans_issued_within_20_weeks', 'percentage', period_start, la_code, source, pc_plans_issued_within_20_weeks FROM t
    UNION ALL SELECT 'kpi_timeliness', 'pc_plans_issued_20_weeks_ex', 'percentage', period_start, la_code, source, pc_plans_issued_20_weeks_ex FROM t
    UNION ALL SELECT 'kpi_requests', 'requests_received_in_year', 'count', period_start, la_code, source, CAST(requests_received_in_year AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'requests_decided_to_assess', 'count', period_start, la_code, source, CAST(requests_decided_to_assess AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'requests_decided_not_to_assess', 'count', period_start, la_code, source, CAST(requests_decided_not_to_assess AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'requests_withdrawn', 'count', period_start, la_code, source, CAST(requests_withdrawn AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'request_assess_pc', 'percentage', period_start, la_code, source, request_assess_pc FROM r
    UNION ALL SELECT 'kpi_requests', 'request_outcome_six_weeks', 'count', period_start, la_code, source, CAST(request_outcome_six_weeks AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'request_outcome_over_6_weeks', 'count', period_start, la_code, source, CAST(request_outcome_over_6_weeks AS DOUBLE) FROM r
    UNION ALL SELECT 'kpi_requests', 'request_outcome_six_weeks_pc', 'percentage', period_start, la_code, source, request_outcome_six_weeks_pc FROM r
)
SELECT l.kpi_table,
       l.kpi_column,
       'calendar_year' AS period_type,
       l.period_start,
       'la' AS geography_level,
       l.la_code AS geography_code,
       l.la_code,
       l.value AS sendlake_value,
       d.value AS dfe_value,
       l.value - d.value AS difference,
       tol.tolerance,
       -- 1e-9: a percentage ending in 5 at the second decimal, rounded by the DfE, is 0.05
       -- away give or take the last bit of a double.
       abs(l.value - d.value) <= tol.tolerance + 1e-9 AS within_tolerance
FROM figures l
JOIN figures d
  ON d.kpi_table = l.kpi_table AND d.kpi_column = l.kpi_column
 AND d.period_start = l.period_start AND d.la_code = l.la_code
JOIN tolerances tol ON tol.kind = l.kind
WHERE l.source = 'sen2' AND d.source = 'dfe_published'
  AND l.value IS NOT NULL AND d.value IS NOT NULL
