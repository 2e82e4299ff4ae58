-- EHC plan caseload by the DfE placement category of the main (rank 1) placement on the
-- snapshot day (send-domain.md §4.5; mapping in fact_placement.sql).
-- Each category is split by compulsory school age, as the DfE splits "not in education -
-- other" (`neet_other_csa` is `ehc_plans_csa` of the `neet_other` row): of compulsory school
-- age = aged 5 to 15 at the 31 August on or before the snapshot day (fact_caseload); everyone
-- else, including a child without a birth month, is in `ehc_plans_not_csa`, so the two add up
-- to `ehc_plans`.
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
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, setting_group, setting_category, count(*) AS ehc_plans,
           sum(CASE WHEN age_at_31_august BETWEEN 5 AND 15 THEN 1 ELSE 0 END) AS ehc_plans_csa
    FROM snaps
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, setting_group, setting_category
),
local_rows AS (
    SELECT b.period_type, b.period_start, b.geography_level, b.geography_code, b.la_code,
           b.source_system AS source, b.setting_group, b.setting_category,
           b.ehc_plans, b.ehc_plans_csa, b.ehc_plans - b.ehc_plans_csa AS ehc_plans_not_csa,
           t.caseload_total
    FROM by_dim b
    JOIN totals t
      ON t.period_type = b.period_type AND t.period_start = b.period_start
     AND t.geography_level = b.geography_level AND t.geography_code = b.geography_code
     AND t.la_code = b.la_code AND t.source_system = b.source_system
),
-- The DfE's placement figures come grouped differently in each release, so only local
-- figures are shown here; the DfE caseload total is in kpi_caseload_need.
dfe_rows AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system AS source,
           setting_group, setting_category, ehc_plans, ehc_plans_csa, ehc_plans_csa AS ehc_plans_not_csa,
           ehc_plans AS caseload_total
    FROM by_dim
    WHERE false
),
all_rows AS (
    SELECT * FROM local_rows
    UNION ALL
    SELECT * FROM dfe_rows
)
SELECT period_type, period_start, geography_level, geography_code, la_code, source, setting_group, setting_category, ehc_plans, caseload_total,
       ehc_plans_csa, ehc_plans_not_csa,
       100.0 * ehc_plans / NULLIF(caseload_total, 0) AS ehc_plans_pc,
       -- A snapshot is whole by construction (see the column's description).
       TRUE AS period_complete
FROM all_rows
