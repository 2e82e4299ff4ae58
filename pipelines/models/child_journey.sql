-- The child's journey across partners, one row per stage reached per source record, so the
-- gaps show: a plan with no request date, a referral that never links to a plan.
SELECT person_key, la_code, 'request' AS stage, 1 AS stage_order, received_date AS stage_date,
       source_system, request_ref AS ref
FROM fact_request
UNION ALL
SELECT person_key, la_code, 'decision', 2, request_outcome_date, source_system, request_ref
FROM fact_request WHERE request_outcome_date IS NOT NULL
UNION ALL
SELECT person_key, la_code, 'assessment', 3, assessment_outcome_date, source_system, request_ref
FROM fact_assessment WHERE assessment_outcome_date IS NOT NULL
UNION ALL
SELECT person_key, la_code, 'plan_issued', 4, start_date, source_system, request_ref
FROM fact_plan
UNION ALL
SELECT person_key, la_code, 'placement', 5, entry_date, source_system, placement_ref
FROM fact_placement
UNION ALL
SELECT person_key, la_code, 'annual_review', 6, review_meeting_date, source_system,
       request_ref || '/' || CAST(review_meeting_date AS VARCHAR)
FROM (
    SELECT DISTINCT person_key, la_code, source_system, request_ref, review_meeting_date
    FROM fact_caseload WHERE review_meeting_date IS NOT NULL
) r
UNION ALL
SELECT person_key, la_code, 'health_referral', 7, referral_date, 'nhs_community', referral_ref
FROM fact_health_referral
UNION ALL
SELECT person_key, la_code, 'first_contact', 8, first_contact_date, 'nhs_community', referral_ref
FROM fact_health_referral WHERE first_contact_date IS NOT NULL
