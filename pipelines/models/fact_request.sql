-- Requests for an EHC needs assessment. A SEN2 return repeats earlier requests (historical
-- ones as outcome H), so each SEN2 request is taken once, from the latest return holding it
-- (same LA, child and received date). The council's system holds each request once.
-- Decision within 6 weeks: a decision (Y or N) no more than 42 days after the request.
WITH sen2 AS (
    SELECT r.*, row_number() OVER (
        PARTITION BY r.la_code, r.person_key, r.received_date
        ORDER BY r.collection_year DESC, r.request_seq
    ) AS rn
    FROM request r
),
unioned AS (
    SELECT person_key, la_code, 'sen2' AS source_system, request_key AS request_ref,
           received_date, request_source, request_outcome, request_outcome_date,
           request_mediation, request_tribunal
    FROM sen2
    WHERE rn = 1
    UNION ALL
    SELECT person_key, la_code, 'council_cms', record_id, received_date, request_source,
           request_outcome, request_outcome_date, request_mediation, request_tribunal
    FROM cms_request
)
SELECT person_key, la_code, source_system, request_ref, received_date, request_source,
       request_outcome, request_outcome_date,
       CAST(request_outcome_date - received_date AS INT) AS decision_days,
       CASE WHEN request_outcome IN ('Y', 'N') AND request_outcome_date IS NOT NULL
                 AND received_date IS NOT NULL
            THEN request_outcome_date - received_date <= 42 END AS decided_within_6_weeks,
       COALESCE(request_outcome = 'H', false) AS is_historical,
       request_mediation, request_tribunal
FROM unioned
