-- Requests for an EHC needs assessment: SEN2 requests once each (the copy
-- sen2_request_copy keeps), and the council's system, which holds each request once.
-- Decision within 6 weeks: a decision (Y or N) no more than 42 days after the request.
WITH sen2 AS (
    SELECT r.*
    FROM request r
    JOIN sen2_request_copy c ON c.request_key = r.request_key
    WHERE c.is_kept
),
unioned AS (
    SELECT person_key, la_code, 'sen2' AS source_system, request_key AS request_ref,
           received_date, request_source, request_outcome, request_outcome_date,
           request_mediation, request_tribunal
    FROM sen2
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
