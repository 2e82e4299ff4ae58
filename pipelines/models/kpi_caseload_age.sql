-- EHC plan caseload by age band: the plans active on the SEN2 census day (calendar_year, the
-- census in January of that year) or at the month end (month), by the child's age at 31 August
-- (fact_caseload.age_at_31_august: the start of the snapshot's academic year), in the DfE's
-- caseload age bands, beside the DfE's published figures. A child without a birth month is in
-- `unknown`, so the bands always add up to the caseload; an age over 25 (outside SEN2's 0-25
-- scope, a data error) is shown as `over_25` rather than folded into a band it is not in.
WITH snaps AS (
    SELECT c.*, g.geography_level, g.geography_code,
           CASE WHEN c.snapshot_type = 'month_end' THEN 'month' ELSE 'calendar_year' END AS period_type,
           CASE WHEN c.snapshot_type = 'month_end' THEN CAST(date_trunc('month', c.snapshot_date) AS DATE)
                ELSE CAST(date_trunc('year', c.snapshot_date) AS DATE) END AS period_start,
           CASE WHEN c.age_at_31_august IS NULL THEN 'unknown'
                WHEN c.age_at_31_august < 5 THEN 'under_5'
                WHEN c.age_at_31_august <= 10 THEN '5_to_10'
                WHEN c.age_at_31_august <= 15 THEN '11_to_15'
                WHEN c.age_at_31_august <= 19 THEN '16_to_19'
                WHEN c.age_at_31_august <= 25 THEN '20_to_25'
                ELSE 'over_25' END AS age_band
    FROM fact_caseload c
    JOIN child_geography g ON g.person_key = c.person_key AND g.la_code = c.la_code
),
totals AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, count(*) AS caseload_total
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
by_band AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, age_band, count(*) AS ehc_plans
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, age_band
),
local_rows AS (
    SELECT b.period_type, b.period_start, b.geography_level, b.geography_code, b.la_code,
           b.source_system AS source, b.age_band, b.ehc_plans, t.caseload_total
    FROM by_band b
    JOIN totals t
      ON t.period_type = b.period_type AND t.period_start = b.period_start
     AND t.geography_level = b.geography_level AND t.geography_code = b.geography_code
     AND t.la_code = b.la_code AND t.source_system = b.source_system
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
