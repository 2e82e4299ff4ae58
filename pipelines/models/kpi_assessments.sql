-- Decisions not to issue an EHC plan after an assessment, and whether each reached the family
-- within 16 weeks (112 days) of the request (SEND Regs 2014 reg. 10), as the DfE's
-- assessments data set counts them (`outcome_decision_within_time`, send-domain.md §3.3,
-- §3.5; docs/kpi-definitions.md). The cohort is the decisions MADE in the period: assessment
-- outcome N with its AssessmentOutcomeDate in the period, whenever the request came, as the
-- DfE counts the 6-week decisions (kpi_requests). A decision with no request date to measure
-- from is over time (it cannot be shown to be within); a decision with no date cannot be
-- placed in a period and is in none (the data-quality checks show such records).
WITH decisions AS (
    SELECT a.*, g.geography_level, g.geography_code, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', a.assessment_outcome_date) AS DATE)
                ELSE CAST(date_trunc('year', a.assessment_outcome_date) AS DATE) END AS period_start
    FROM fact_assessment a
    JOIN child_geography g ON g.person_key = a.person_key AND g.la_code = a.la_code
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
    WHERE a.assessment_outcome = 'N' AND a.assessment_outcome_date IS NOT NULL
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source,
           count(*) AS decisions_not_to_issue,
           sum(CASE WHEN not_issued_within_16_weeks THEN 1 ELSE 0 END) AS outcome_decision_within_time,
           sum(CASE WHEN NOT COALESCE(not_issued_within_16_weeks, false) THEN 1 ELSE 0 END) AS outcome_decision_over_time
    FROM decisions
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
local_rates AS (
    SELECT f.*,
           100.0 * outcome_decision_within_time / NULLIF(decisions_not_to_issue, 0) AS outcome_decision_within_time_pc,
           100.0 * outcome_decision_over_time / NULLIF(decisions_not_to_issue, 0) AS outcome_decision_over_time_pc,
           CAST(NULL AS VARCHAR) AS outcome_decision_within_time_pc_status
    FROM figures f
),
-- The DfE's published figures (its assessments file or the EES API, via dfe_figure), for all
-- assessments. Its decisions not to issue are within + over, as for the 6-week decisions.
dfe_rows AS (
    SELECT * FROM dfe_figure
    WHERE filter_key = ''
      AND indicator IN ('outcome_decision_within_time', 'outcome_decision_over_time',
                        'outcome_decision_within_time_pc', 'outcome_decision_over_time_pc')
),
dfe AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, 'dfe_published' AS source,
           CAST(max(CASE WHEN indicator = 'outcome_decision_within_time' THEN value END)
                + max(CASE WHEN indicator = 'outcome_decision_over_time' THEN value END) AS BIGINT) AS decisions_not_to_issue,
           CAST(max(CASE WHEN indicator = 'outcome_decision_within_time' THEN value END) AS BIGINT) AS outcome_decision_within_time,
           CAST(max(CASE WHEN indicator = 'outcome_decision_over_time' THEN value END) AS BIGINT) AS outcome_decision_over_time,
           max(CASE WHEN indicator = 'outcome_decision_within_time_pc' THEN value END) AS outcome_decision_within_time_pc,
           max(CASE WHEN indicator = 'outcome_decision_over_time_pc' THEN value END) AS outcome_decision_over_time_pc,
           max(CASE WHEN indicator = 'outcome_decision_within_time_pc' THEN status END) AS outcome_decision_within_time_pc_status
    FROM dfe_rows
    GROUP BY period_type, period_start, geography_level, geography_code, la_code
),
k AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source,
           decisions_not_to_issue, outcome_decision_within_time, outcome_decision_over_time,
           outcome_decision_within_time_pc, outcome_decision_over_time_pc,
           outcome_decision_within_time_pc_status
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
