-- EHC plan caseload by age band: the plans active on the SEN2 census day (calendar_year, the
-- census in January of that year) or at the month end (month), by the child's age at 31 August
-- (fact_caseload.age_at_31_august: the start of the snapshot's academic year), in the DfE's
-- caseload age bands, beside the DfE's published figures. A child without a birth month is in
-- `unknown`, so the bands always add up to the caseload; an age over 25 (outside SEN2's 0-25
-- scope, a data error) is shown as `over_25` rather than folded into a band it is not in.
WITH snaps AS (
    SELECT s.*,
           CASE WHEN s.age_at_31_august IS NULL THEN 'unknown'
                WHEN s.age_at_31_august < 5 THEN 'under_5'
                WHEN s.age_at_31_august <= 10 THEN '5_to_10'
                WHEN s.age_at_31_august <= 15 THEN '11_to_15'
                WHEN s.age_at_31_august <= 19 THEN '16_to_19'
                WHEN s.age_at_31_august <= 25 THEN '20_to_25'
                ELSE 'over_25' END AS age_band
    FROM caseload_snapshot s
),
-- caseload_total: the bands of an area and period add up to its caseload.
local_rows AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source, age_band, count(*) AS ehc_plans,
           sum(count(*)) OVER (PARTITION BY period_type, period_start, geography_level, geography_code, la_code, source_system) AS caseload_total
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, age_band
),
-- The DfE's caseload file ('EHC plans as at January': `ehcplans`) by its age breakdown. The
-- breakdown labels are the DfE's as published in its caseload files ("Under age 5", "Age 5 to
-- 10", ...); the total is the all-plans row.
dfe_band AS (
    SELECT * FROM (VALUES
        ('Under age 5', 'under_5'),
        ('Age 5 to 10', '5_to_10'),
        ('Age 11 to 15', '11_to_15'),
        ('Age 16 to 19', '16_to_19'),
        ('Age 20 to 25', '20_to_25')
    ) AS m(label, age_band)
),
dfe_rows AS (
    SELECT n.period_type, n.period_start, n.geography_level, n.geography_code, n.la_code,
           'dfe_published' AS source, m.age_band,
           CAST(n.value AS BIGINT) AS ehc_plans, CAST(t.value AS BIGINT) AS caseload_total
    FROM dfe_figure n
    JOIN dfe_band m ON starts_with(n.filter_key, 'breakdown=' || m.label || ';breakdown_topic=Age')
    LEFT JOIN dfe_figure t
      ON t.indicator = 'ehcplans' AND t.filter_key = '' AND t.data_set_id = n.data_set_id
     AND t.period_start = n.period_start
     AND t.geography_level = n.geography_level AND t.geography_code = n.geography_code
    WHERE n.indicator = 'ehcplans'
),
all_rows AS (
    SELECT * FROM local_rows
    UNION ALL
    SELECT * FROM dfe_rows
)
SELECT period_type, period_start, geography_level, geography_code, la_code, source, age_band,
       ehc_plans, caseload_total,
       100.0 * ehc_plans / NULLIF(caseload_total, 0) AS ehc_plans_pc,
       -- A snapshot is whole by construction (see the column's description).
       TRUE AS period_complete
FROM all_rows
