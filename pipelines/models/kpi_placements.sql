-- EHC plan caseload by the DfE placement category of the main (rank 1) placement on the
-- snapshot day (send-domain.md §4.5; mapping in fact_placement.sql).
-- Each category is split by compulsory school age, as the DfE splits "not in education -
-- other" (`neet_other_csa` is `ehc_plans_csa` of the `neet_other` row): of compulsory school
-- age = aged 5 to 15 at the 31 August on or before the snapshot day (fact_caseload); everyone
-- else, including a child without a birth month, is in `ehc_plans_not_csa`, so the two add up
-- to `ehc_plans`.
-- caseload_total: the placements of an area and period add up to its caseload.
WITH by_dim AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system, setting_group, setting_category, count(*) AS ehc_plans,
           sum(CASE WHEN age_at_31_august BETWEEN 5 AND 15 THEN 1 ELSE 0 END) AS ehc_plans_csa,
           sum(count(*)) OVER (PARTITION BY period_type, period_start, geography_level, geography_code, la_code, source_system) AS caseload_total
    FROM caseload_snapshot
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system, setting_group, setting_category
),
local_rows AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source, setting_group, setting_category,
           ehc_plans, ehc_plans_csa, ehc_plans - ehc_plans_csa AS ehc_plans_not_csa,
           caseload_total
    FROM by_dim
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
