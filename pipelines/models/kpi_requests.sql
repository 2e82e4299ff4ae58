-- Requests for an EHC needs assessment and the decisions on them, as the DfE's requests data
-- set defines them (docs/kpi-definitions.md, send-domain.md §3.5). Two cohorts, each counted
-- in the period of its own date:
--   * requests RECEIVED in the period (historical H excluded) and what was decided on them:
--     requests_received_in_year and its outcome split, and the four shares the DfE publishes
--     (request_assess_pc ...), all over requests received;
--   * decisions MADE in the period (outcome Y or N dated in it, whenever the request came):
--     request_outcome_six_weeks / _over_6_weeks and their percentages, over those decisions.
-- So a request received in December and decided in January is one of December's requests and
-- one of January's decisions, and six + over may exceed the requests received in the year.
WITH events AS (
    SELECT f.person_key, f.la_code, f.source_system, f.request_outcome, f.decided_within_6_weeks,
           'received' AS event, f.received_date AS event_date
    FROM fact_request f
    WHERE NOT f.is_historical AND f.received_date IS NOT NULL
    UNION ALL
    -- A decision without a date cannot be placed in a period: it is in no period's decisions
    -- (the data-quality checks count such requests).
    SELECT f.person_key, f.la_code, f.source_system, f.request_outcome, f.decided_within_6_weeks,
           'decided', f.request_outcome_date
    FROM fact_request f
    WHERE f.request_outcome IN ('Y', 'N') AND f.request_outcome_date IS NOT NULL
),
periods AS (
    SELECT e.*, g.geography_level, g.geography_code, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', e.event_date) AS DATE)
                ELSE CAST(date_trunc('year', e.event_date) AS DATE) END AS period_start
    FROM events e
    JOIN child_geography g ON g.person_key = e.person_key AND g.la_code = e.la_code
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source,
           sum(CASE WHEN event = 'received' THEN 1 ELSE 0 END) AS requests_received_in_year,
           sum(CASE WHEN event = 'received' AND request_outcome = 'Y' THEN 1 ELSE 0 END) AS requests_decided_to_assess,
           sum(CASE WHEN event = 'received' AND request_outcome = 'N' THEN 1 ELSE 0 END) AS requests_decided_not_to_assess,
           sum(CASE WHEN event = 'received' AND (request_outcome = 'A' OR request_outcome IS NULL) THEN 1 ELSE 0 END) AS requests_decision_not_made,
           sum(CASE WHEN event = 'received' AND request_outcome = 'W' THEN 1 ELSE 0 END) AS requests_withdrawn,
           sum(CASE WHEN event = 'received' AND request_outcome IN ('Y', 'N') THEN 1 ELSE 0 END) AS requests_decided,
           sum(CASE WHEN event = 'decided' THEN 1 ELSE 0 END) AS request_decisions_in_year,
           sum(CASE WHEN event = 'decided' AND decided_within_6_weeks THEN 1 ELSE 0 END) AS request_outcome_six_weeks,
           sum(CASE WHEN event = 'decided' AND NOT COALESCE(decided_within_6_weeks, false) THEN 1 ELSE 0 END) AS request_outcome_over_6_weeks
    FROM periods
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
local_rates AS (
    SELECT f.*,
           100.0 * requests_decided_to_assess / NULLIF(requests_received_in_year, 0) AS request_assess_pc,
           100.0 * requests_decided_not_to_assess / NULLIF(requests_received_in_year, 0) AS request_not_assess_pc,
           100.0 * requests_decision_not_made / NULLIF(requests_received_in_year, 0) AS request_outstanding_pc,
           100.0 * requests_withdrawn / NULLIF(requests_received_in_year, 0) AS request_withdrawn_pc,
           100.0 * request_outcome_six_weeks / NULLIF(request_decisions_in_year, 0) AS request_outcome_six_weeks_pc,
           100.0 * request_outcome_over_6_weeks / NULLIF(request_decisions_in_year, 0) AS request_outcome_over_6_weeks_pc,
           CAST(NULL AS VARCHAR) AS request_assess_pc_status,
           CAST(NULL AS VARCHAR) AS request_outcome_six_weeks_pc_status
    FROM figures f
),
-- The DfE's published figures (its requests file or the EES API, via dfe_figure), under the
-- DfE's names, for all requests.
dfe_rows AS (
    SELECT * FROM dfe_figure
    WHERE filter_key = ''
      AND indicator IN ('requests_received_in_year', 'requests_decided_to_assess',
                        'requests_decided_not_to_assess', 'requests_decision_not_made',
                        'requests_withdrawn', 'request_assess_pc', 'request_not_assess_pc',
                        'request_outstanding_pc', 'request_withdrawn_pc',
                        'request_outcome_six_weeks', 'request_outcome_over_6_weeks',
                        'request_outcome_six_weeks_pc', 'request_outcome_over_6_weeks_pc')
),
dfe AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, 'dfe_published' AS source,
           CAST(max(CASE WHEN indicator = 'requests_received_in_year' THEN value END) AS BIGINT) AS requests_received_in_year,
           CAST(max(CASE WHEN indicator = 'requests_decided_to_assess' THEN value END) AS BIGINT) AS requests_decided_to_assess,
           CAST(max(CASE WHEN indicator = 'requests_decided_not_to_assess' THEN value END) AS BIGINT) AS requests_decided_not_to_assess,
           CAST(max(CASE WHEN indicator = 'requests_decision_not_made' THEN value END) AS BIGINT) AS requests_decision_not_made,
           CAST(max(CASE WHEN indicator = 'requests_withdrawn' THEN value END) AS BIGINT) AS requests_withdrawn,
           CAST(max(CASE WHEN indicator = 'requests_decided_to_assess' THEN value END)
                + max(CASE WHEN indicator = 'requests_decided_not_to_assess' THEN value END) AS BIGINT) AS requests_decided,
           CAST(max(CASE WHEN indicator = 'request_outcome_six_weeks' THEN value END)
                + max(CASE WHEN indicator = 'request_outcome_over_6_weeks' THEN value END) AS BIGINT) AS request_decisions_in_year,
           CAST(max(CASE WHEN indicator = 'request_outcome_six_weeks' THEN value END) AS BIGINT) AS request_outcome_six_weeks,
           CAST(max(CASE WHEN indicator = 'request_outcome_over_6_weeks' THEN value END) AS BIGINT) AS request_outcome_over_6_weeks,
           max(CASE WHEN indicator = 'request_assess_pc' THEN value END) AS request_assess_pc,
           max(CASE WHEN indicator = 'request_not_assess_pc' THEN value END) AS request_not_assess_pc,
           max(CASE WHEN indicator = 'request_outstanding_pc' THEN value END) AS request_outstanding_pc,
           max(CASE WHEN indicator = 'request_withdrawn_pc' THEN value END) AS request_withdrawn_pc,
           max(CASE WHEN indicator = 'request_outcome_six_weeks_pc' THEN value END) AS request_outcome_six_weeks_pc,
           max(CASE WHEN indicator = 'request_outcome_over_6_weeks_pc' THEN value END) AS request_outcome_over_6_weeks_pc,
           max(CASE WHEN indicator = 'request_assess_pc' THEN status END) AS request_assess_pc_status,
           max(CASE WHEN indicator = 'request_outcome_six_weeks_pc' THEN status END) AS request_outcome_six_weeks_pc_status
    FROM dfe_rows
    GROUP BY period_type, period_start, geography_level, geography_code, la_code
),
k AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source,
           requests_received_in_year, requests_decided_to_assess, requests_decided_not_to_assess,
           requests_decision_not_made, requests_withdrawn, requests_decided,
           request_decisions_in_year, request_outcome_six_weeks, request_outcome_over_6_weeks,
           request_assess_pc, request_not_assess_pc, request_outstanding_pc, request_withdrawn_pc,
           request_outcome_six_weeks_pc, request_outcome_over_6_weeks_pc,
           request_assess_pc_status, request_outcome_six_weeks_pc_status
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
