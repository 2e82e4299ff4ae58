-- EHC needs assessments: the decision whether to issue a plan, for each request in
-- fact_request. A decision not to issue should reach the family within 16 weeks (112 days).
WITH unioned AS (
    SELECT fr.person_key, fr.la_code, fr.source_system, fr.request_ref, fr.received_date,
           fr.is_historical, a.assessment_outcome, a.assessment_outcome_date, a.week20_exception
    FROM assessment a
    JOIN fact_request fr ON fr.source_system = 'sen2' AND fr.request_ref = a.request_key
    UNION ALL
    SELECT fr.person_key, fr.la_code, fr.source_system, fr.request_ref, fr.received_date,
           fr.is_historical, a.assessment_outcome, a.assessment_outcome_date, a.week20_exception
    FROM (
        SELECT c.*, row_number() OVER (PARTITION BY c.request_id ORDER BY c.updated_at DESC) AS rn
        FROM cms_assessment c
    ) a
    JOIN fact_request fr ON fr.source_system = 'council_cms' AND fr.request_ref = a.request_id
    WHERE a.rn = 1
)
SELECT person_key, la_code, source_system, request_ref, received_date, assessment_outcome,
       assessment_outcome_date,
       CAST(assessment_outcome_date - received_date AS INT) AS outcome_days,
       CASE WHEN assessment_outcome = 'N' AND assessment_outcome_date IS NOT NULL
                 AND received_date IS NOT NULL
            THEN assessment_outcome_date - received_date <= 112 END AS not_issued_within_16_weeks,
       week20_exception,
       is_historical OR COALESCE(assessment_outcome = 'H', false) AS is_historical
FROM unioned
