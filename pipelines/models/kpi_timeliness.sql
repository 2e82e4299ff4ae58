-- 20-week timeliness of new EHC plans (send-domain.md §3.3, docs/kpi-definitions.md), by the
-- month and calendar year the plan was issued, for each LA, district, locality and quadrant,
-- computed from each local source, beside the DfE's published figures.
WITH plans AS (
    SELECT f.*, g.geography_level, g.geography_code
    FROM fact_plan f
    JOIN child_geography g ON g.person_key = f.person_key AND g.la_code = f.la_code
    WHERE f.in_timeliness_scope
),
periods AS (
    SELECT p.*, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', p.start_date) AS DATE)
                ELSE CAST(date_trunc('year', p.start_date) AS DATE) END AS period_start
    FROM plans p
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
),
local_figures AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source,
           count(*) AS plans_issued_den,
           sum(CASE WHEN NOT week20_exception THEN 1 ELSE 0 END) AS plans_issued_den_ex,
           sum(CASE WHEN timeliness_band = 'within_20_weeks' THEN 1 ELSE 0 END) AS plans_issued_within_20_weeks,
           sum(CASE WHEN timeliness_band = 'within_20_weeks' AND NOT week20_exception THEN 1 ELSE 0 END) AS plans_issued_20_weeks_ex,
           sum(CASE WHEN timeliness_band = 'gt20weeks_ltyear' THEN 1 ELSE 0 END) AS plans_issued_gt20weeks_ltyear,
           sum(CASE WHEN timeliness_band = 'gt20weeks_ltyear' AND NOT week20_exception THEN 1 ELSE 0 END) AS plans_issued_gt20weeks_ltyear_ex,
           sum(CASE WHEN timeliness_band = 'gt_1_year' THEN 1 ELSE 0 END) AS plans_issued_gt_1_year,
           sum(CASE WHEN timeliness_band = 'gt_1_year' AND NOT week20_exception THEN 1 ELSE 0 END) AS plans_issued_gt_1_year_ex,
           avg(weeks_to_issue) AS avg_weeks_issue_plan,
           avg(CASE WHEN NOT week20_exception THEN weeks_to_issue END) AS avg_weeks_issue_plan_exc
    FROM periods
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
local_rates AS (
    SELECT l.*,
           100.0 * plans_issued_within_20_weeks / NULLIF(plans_issued_den, 0) AS pc_plans_issued_within_20_weeks,
           100.0 * plans_issued_20_weeks_ex / NULLIF(plans_issued_den_ex, 0) AS pc_plans_issued_20_weeks_ex,
           100.0 * plans_issued_gt20weeks_ltyear / NULLIF(plans_issued_den, 0) AS pc_plans_issued_gt20weeks_ltyear,
           100.0 * plans_issued_gt20weeks_ltyear_ex / NULLIF(plans_issued_den_ex, 0) AS pc_plans_issued_gt20weeks_ltyear_ex,
           100.0 * plans_issued_gt_1_year / NULLIF(plans_issued_den, 0) AS pc_plans_issued_gt_1_year,
           100.0 * plans_issued_gt_1_year_ex / NULLIF(plans_issued_den_ex, 0) AS pc_plans_issued_gt_1_year_ex,
           CAST(NULL AS VARCHAR) AS pc_plans_issued_within_20_weeks_status,
           CAST(NULL AS VARCHAR) AS pc_plans_issued_20_weeks_ex_status
    FROM local_figures l
),
-- The DfE's indicators, under the names of its timeliness data set (catalogue) or of the EES
-- API data set, which splits "including/excluding exceptions" into a filter.
dfe_map AS (
    SELECT * FROM (VALUES
        ('plans_issued_den', '', 'plans_issued_den'),
        ('plans_issued_den_ex', '', 'plans_issued_den_ex'),
        ('plans_issued_within_20_weeks', '', 'plans_issued_within_20_weeks'),
        ('plans_issued_20_weeks_ex', '', 'plans_issued_20_weeks_ex'),
        ('pc_plans_issued_within_20_weeks', '', 'pc_plans_issued_within_20_weeks'),
        ('pc_plans_issued_20_weeks_ex', '', 'pc_plans_issued_20_weeks_ex'),
        ('avg_weeks_issue_plan', '', 'avg_weeks_issue_plan'),
        ('avg_weeks_issue_plan_exc', '', 'avg_weeks_issue_plan_exc'),
        ('plans_issued_gt20weeks_ltyear', '', 'plans_issued_gt20weeks_ltyear'),
        ('plans_issued_gt20weeks_ltyear_ex', '', 'plans_issued_gt20weeks_ltyear_ex'),
        ('pc_plans_issued_gt20weeks_ltyear', '', 'pc_plans_issued_gt20weeks_ltyear'),
        ('pc_plans_issued_gt20weeks_ltyear_ex', '', 'pc_plans_issued_gt20weeks_ltyear_ex'),
        ('plans_issued_gt_1_year', '', 'plans_issued_gt_1_year'),
        ('plans_issued_gt_1_year_ex', '', 'plans_issued_gt_1_year_ex'),
        ('pc_plans_issued_gt_1_year', '', 'pc_plans_issued_gt_1_year'),
        ('pc_plans_issued_gt_1_year_ex', '', 'pc_plans_issued_gt_1_year_ex'),
        ('new_ehc_plans', 'exceptions=Including exceptions', 'plans_issued_den'),
        ('new_ehc_plans', 'exceptions=Excluding exceptions', 'plans_issued_den_ex'),
        ('within_20_weeks', 'exceptions=Including exceptions', 'plans_issued_within_20_weeks'),
        ('within_20_weeks', 'exceptions=Excluding exceptions', 'plans_issued_20_weeks_ex'),
        ('pc_within_20_weeks', 'exceptions=Including exceptions', 'pc_plans_issued_within_20_weeks'),
        ('pc_within_20_weeks', 'exceptions=Excluding exceptions', 'pc_plans_issued_20_weeks_ex')
    ) AS m(indicator, filter_key, kpi_column)
),
dfe_rows AS (
    SELECT f.period_type, f.period_start, f.geography_level, f.geography_code, f.la_code,
           m.kpi_column, f.value, f.status
    FROM dfe_figure f
    JOIN dfe_map m ON m.indicator = f.indicator AND m.filter_key = f.filter_key
),
dfe AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, 'dfe_published' AS source,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_den' THEN value END) AS BIGINT) AS plans_issued_den,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_den_ex' THEN value END) AS BIGINT) AS plans_issued_den_ex,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_within_20_weeks' THEN value END) AS BIGINT) AS plans_issued_within_20_weeks,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_20_weeks_ex' THEN value END) AS BIGINT) AS plans_issued_20_weeks_ex,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_gt20weeks_ltyear' THEN value END) AS BIGINT) AS plans_issued_gt20weeks_ltyear,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_gt20weeks_ltyear_ex' THEN value END) AS BIGINT) AS plans_issued_gt20weeks_ltyear_ex,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_gt_1_year' THEN value END) AS BIGINT) AS plans_issued_gt_1_year,
           CAST(max(CASE WHEN kpi_column = 'plans_issued_gt_1_year_ex' THEN value END) AS BIGINT) AS plans_issued_gt_1_year_ex,
           max(CASE WHEN kpi_column = 'avg_weeks_issue_plan' THEN value END) AS avg_weeks_issue_plan,
           max(CASE WHEN kpi_column = 'avg_weeks_issue_plan_exc' THEN value END) AS avg_weeks_issue_plan_exc,
           max(CASE WHEN kpi_column = 'pc_plans_issued_within_20_weeks' THEN value END) AS pc_plans_issued_within_20_weeks,
           max(CASE WHEN kpi_column = 'pc_plans_issued_20_weeks_ex' THEN value END) AS pc_plans_issued_20_weeks_ex,
           max(CASE WHEN kpi_column = 'pc_plans_issued_gt20weeks_ltyear' THEN value END) AS pc_plans_issued_gt20weeks_ltyear,
           max(CASE WHEN kpi_column = 'pc_plans_issued_gt20weeks_ltyear_ex' THEN value END) AS pc_plans_issued_gt20weeks_ltyear_ex,
           max(CASE WHEN kpi_column = 'pc_plans_issued_gt_1_year' THEN value END) AS pc_plans_issued_gt_1_year,
           max(CASE WHEN kpi_column = 'pc_plans_issued_gt_1_year_ex' THEN value END) AS pc_plans_issued_gt_1_year_ex,
           max(CASE WHEN kpi_column = 'pc_plans_issued_within_20_weeks' THEN status END) AS pc_plans_issued_within_20_weeks_status,
           max(CASE WHEN kpi_column = 'pc_plans_issued_20_weeks_ex' THEN status END) AS pc_plans_issued_20_weeks_ex_status
    FROM dfe_rows
    GROUP BY period_type, period_start, geography_level, geography_code, la_code
),
k AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source,
           plans_issued_den, plans_issued_den_ex, plans_issued_within_20_weeks, plans_issued_20_weeks_ex,
           plans_issued_gt20weeks_ltyear, plans_issued_gt20weeks_ltyear_ex, plans_issued_gt_1_year,
           plans_issued_gt_1_year_ex, avg_weeks_issue_plan, avg_weeks_issue_plan_exc,
           pc_plans_issued_within_20_weeks, pc_plans_issued_20_weeks_ex,
           pc_plans_issued_gt20weeks_ltyear, pc_plans_issued_gt20weeks_ltyear_ex,
           pc_plans_issued_gt_1_year, pc_plans_issued_gt_1_year_ex,
           pc_plans_issued_within_20_weeks_status, pc_plans_issued_20_weeks_ex_status
    FROM local_rates
    UNION ALL
    SELECT * FROM dfe
)
-- period_complete: whether the row's period is wholly covered by its source (period_coverage;
-- the DfE's published figures always are).
SELECT x.*, (x.source = 'dfe_published' OR pc.source IS NOT NULL) AS period_complete
FROM k x
LEFT JOIN period_coverage pc
  ON pc.period_type = x.period_type AND pc.period_start = x.period_start
 AND pc.source = x.source AND pc.la_code = x.la_code
