-- Where the partnership lacks data: for each journey stage and field, which source systems
-- supply it and how complete it is, by month of the stage. A field that only one system
-- supplies, or that is often empty, is a gap to close with the partner who owns it.
WITH observations AS (
    SELECT CAST(date_trunc('month', received_date) AS DATE) AS period_start, la_code AS la_code,
           'request' AS stage, 'received_date' AS field, source_system AS source_system,
           CASE WHEN received_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_request WHERE received_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', received_date) AS DATE) AS period_start, la_code AS la_code,
           'request' AS stage, 'request_outcome' AS field, source_system AS source_system,
           CASE WHEN request_outcome IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_request WHERE received_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', received_date) AS DATE) AS period_start, la_code AS la_code,
           'request' AS stage, 'request_outcome_date' AS field, source_system AS source_system,
           CASE WHEN request_outcome_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_request WHERE received_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', received_date) AS DATE) AS period_start, la_code AS la_code,
           'request' AS stage, 'request_source' AS field, source_system AS source_system,
           CASE WHEN request_source IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_request WHERE received_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', COALESCE(assessment_outcome_date, received_date)) AS DATE) AS period_start, la_code AS la_code,
           'assessment' AS stage, 'assessment_outcome' AS field, source_system AS source_system,
           CASE WHEN assessment_outcome IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_assessment WHERE COALESCE(assessment_outcome_date, received_date) IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', COALESCE(assessment_outcome_date, received_date)) AS DATE) AS period_start, la_code AS la_code,
           'assessment' AS stage, 'assessment_outcome_date' AS field, source_system AS source_system,
           CASE WHEN assessment_outcome_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_assessment WHERE COALESCE(assessment_outcome_date, received_date) IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', COALESCE(assessment_outcome_date, received_date)) AS DATE) AS period_start, la_code AS la_code,
           'assessment' AS stage, 'week20_exception' AS field, source_system AS source_system,
           CASE WHEN week20_exception IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_assessment WHERE COALESCE(assessment_outcome_date, received_date) IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', start_date) AS DATE) AS period_start, la_code AS la_code,
           'plan_issued' AS stage, 'received_date' AS field, source_system AS source_system,
           CASE WHEN received_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_plan WHERE start_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', start_date) AS DATE) AS period_start, la_code AS la_code,
           'plan_issued' AS stage, 'primary_need' AS field, source_system AS source_system,
           CASE WHEN primary_need IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_plan WHERE start_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', start_date) AS DATE) AS period_start, la_code AS la_code,
           'plan_issued' AS stage, 'cease_reason' AS field, source_system AS source_system,
           CASE WHEN cease_reason IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_plan WHERE start_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', entry_date) AS DATE) AS period_start, la_code AS la_code,
           'placement' AS stage, 'urn' AS field, source_system AS source_system,
           CASE WHEN urn IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_placement WHERE entry_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', entry_date) AS DATE) AS period_start, la_code AS la_code,
           'placement' AS stage, 'entry_date' AS field, source_system AS source_system,
           CASE WHEN entry_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_placement WHERE entry_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', entry_date) AS DATE) AS period_start, la_code AS la_code,
           'placement' AS stage, 'leaving_date' AS field, source_system AS source_system,
           CASE WHEN leaving_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_placement WHERE entry_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', referral_date) AS DATE) AS period_start, la_code AS la_code,
           'health_referral' AS stage, 'first_contact_date' AS field, 'nhs_community' AS source_system,
           CASE WHEN first_contact_date IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_health_referral WHERE referral_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', referral_date) AS DATE) AS period_start, la_code AS la_code,
           'health_referral' AS stage, 'provider_code' AS field, 'nhs_community' AS source_system,
           CASE WHEN provider_code IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_health_referral WHERE referral_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', referral_date) AS DATE) AS period_start, la_code AS la_code,
           'health_referral' AS stage, 'la_code' AS field, 'nhs_community' AS source_system,
           CASE WHEN la_code IS NOT NULL THEN 1 ELSE 0 END AS has_value
    FROM fact_health_referral WHERE referral_date IS NOT NULL
    UNION ALL
    SELECT CAST(date_trunc('month', j.stage_date) AS DATE), j.la_code,
           'health_referral', 'linked_to_education_record', 'nhs_community',
           CASE WHEN h.is_linked THEN 1 ELSE 0 END
    FROM child_journey j JOIN fact_health_referral h ON h.referral_ref = j.ref
    WHERE j.stage = 'health_referral' AND j.stage_date IS NOT NULL
)
SELECT period_start, COALESCE(la_code, 'unknown') AS la_code, stage, field, source_system,
       count(*) AS records,
       sum(has_value) AS with_value,
       100.0 * sum(has_value) / count(*) AS pct_complete
FROM observations
GROUP BY period_start, COALESCE(la_code, 'unknown'), stage, field, source_system
