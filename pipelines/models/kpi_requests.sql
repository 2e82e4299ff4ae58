-- Requests for an EHC needs assessment received in the period (historical H excluded) and
-- what was decided, as the DfE's requests data set; decisions within 6 weeks (42 days).
-- A request keeps the period it was received in, whenever it was decided, so a request of
-- December decided in January counts in December's year.
WITH requests AS (
    SELECT f.*, g.geography_level, g.geography_code, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', f.received_date) AS DATE)
                ELSE CAST(date_trunc('year', f.received_date) AS DATE) END AS period_start
    FROM fact_request f
    JOIN child_geography g ON g.person_key = f.person_key AND g.la_code = f.la_code
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
    WHERE NOT f.is_historical AND f.received_date IS NOT NULL
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source,
           count(*) AS requests_received_in_year,
           sum(CASE WHEN request_outcome = 'Y' THEN 1 ELSE 0 END) AS requests_decided_to_assess,
           sum(CASE WHEN request_outcome = 'N' THEN 1 ELSE 0 END) AS requests_decided_not_to_assess,
           sum(CASE WHEN request_outcome = 'A' OR request_outcome IS NULL THEN 1 ELSE 0 END) AS requests_decision_not_made,
           sum(CASE WHEN request_outcome = 'W' THEN 1 ELSE 0 END) AS requests_withdrawn,
           sum(CASE WHEN request_outcome IN ('Y', 'N') THEN 1 ELSE 0 END) AS requests_decided,
           sum(CASE WHEN request_outcome IN ('Y', 'N') AND decided_within_6_weeks THEN 1 ELSE 0 END) AS request_outcome_six_weeks,
           sum(CASE WHEN request_outcome IN ('Y', 'N') AND NOT COALESCE(decided_within_6_weeks, false) THEN 1 ELSE 0 END) AS request_outcome_over_6_weeks
    FROM requests
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
),
k AS (
    SELECT f.*,
           100.0 * requests_decided_to_assess / NULLIF(requests_decided, 0) AS request_assess_pc,
           100.0 * request_outcome_six_weeks / NULLIF(requests_decided, 0) AS request_outcome_six_weeks_pc
    FROM figures f
)
SELECT period_type,
       period_start,
       geography_level,
       geography_code,
       la_code,
       source,
       requests_received_in_year,
       requests_decided_to_assess,
       requests_decided_not_to_assess,
       requests_decision_not_made,
       requests_withdrawn,
       requests_decided,
       request_assess_pc,
       request_outcome_six_weeks,
       request_outcome_over_6_weeks,
       request_outcome_six_weeks_pc
FROM k
