-- Where the partnership lacks data: for each journey stage and field, which source systems
-- supply it and how complete it is, by month of the stage. A field that only one system
-- supplies, or that is often empty, is a gap to close with the partner who owns it.
-- Each stage's records are read once, with whether each of the stage's fields is filled (one
-- entry a field); `observations` turns the entries into one row per record and field.
WITH records AS (
    SELECT received_date AS stage_date, la_code, 'request' AS stage, source_system,
           [{'field': 'received_date', 'filled': received_date IS NOT NULL},
            {'field': 'request_outcome', 'filled': request_outcome IS NOT NULL},
            {'field': 'request_outcome_date', 'filled': request_outcome_date IS NOT NULL},
            {'field': 'request_source', 'filled': request_source IS NOT NULL}] AS fields
    FROM fact_request
    UNION ALL
    SELECT COALESCE(assessment_outcome_date, received_date), la_code, 'assessment', source_system,
           [{'field': 'assessment_outcome', 'filled': assessment_outcome IS NOT NULL},
            {'field': 'assessment_outcome_date', 'filled': assessment_outcome_date IS NOT NULL},
            {'field': 'week20_exception', 'filled': week20_exception IS NOT NULL}]
    FROM fact_assessment
    UNION ALL
    SELECT start_date, la_code, 'plan_issued', source_system,
           [{'field': 'received_date', 'filled': received_date IS NOT NULL},
            {'field': 'primary_need', 'filled': primary_need IS NOT NULL},
            {'field': 'cease_reason', 'filled': cease_reason IS NOT NULL}]
    FROM fact_plan
    UNION ALL
    SELECT entry_date, la_code, 'placement', source_system,
           [{'field': 'urn', 'filled': urn IS NOT NULL},
            {'field': 'entry_date', 'filled': entry_date IS NOT NULL},
            {'field': 'leaving_date', 'filled': leaving_date IS NOT NULL}]
    FROM fact_placement
    UNION ALL
    SELECT referral_date, la_code, 'health_referral', 'nhs_community',
           [{'field': 'first_contact_date', 'filled': first_contact_date IS NOT NULL},
            {'field': 'provider_code', 'filled': provider_code IS NOT NULL},
            {'field': 'la_code', 'filled': la_code IS NOT NULL}]
    FROM fact_health_referral
    UNION ALL
    SELECT j.stage_date, j.la_code, 'health_referral', 'nhs_community',
           [{'field': 'linked_to_education_record', 'filled': COALESCE(h.is_linked, false)}]
    FROM child_journey j JOIN fact_health_referral h ON h.referral_ref = j.ref
    WHERE j.stage = 'health_referral'
),
observations AS (
    SELECT period_start, la_code, stage, source_system, f['field'] AS field,
           CASE WHEN f['filled'] THEN 1 ELSE 0 END AS has_value
    FROM (
        SELECT CAST(date_trunc('month', stage_date) AS DATE) AS period_start, la_code, stage,
               source_system, unnest(fields) AS f
        FROM records
        WHERE stage_date IS NOT NULL
    ) r
)
SELECT period_start, COALESCE(la_code, 'unknown') AS la_code, stage, field, source_system,
       count(*) AS records,
       sum(has_value) AS with_value,
       100.0 * sum(has_value) / count(*) AS pct_complete
FROM observations
GROUP BY period_start, COALESCE(la_code, 'unknown'), stage, field, source_system
