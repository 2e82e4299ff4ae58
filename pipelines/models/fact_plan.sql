-- EHC plans issued, with 20-week timeliness (docs/kpi-definitions.md, send-domain.md §3.3):
-- in scope when the assessment outcome is Y, neither the request nor the assessment is
-- historical (H) and the plan was not transferred in from another LA. Within 20 weeks: issued
-- no more than 140 days after the request. Over 20 weeks but under a year: before the
-- request's anniversary (29 February + 1 year = 28 February). A plan whose request date is
-- unknown stays in scope (the DfE's plans_issued_den keeps it) but in no band: it is never
-- "within 20 weeks", and has no elapsed time for the averages.
WITH extras AS (
    -- Per SEN2 request, in one pass: the primary (rank 1) need, whether the plan was
    -- transferred in, and the latest cessation recorded on any return's copy of the plan (a
    -- later return may record it on its historical repeat only). Cessations are compared as
    -- `date|reason` text, so the latest date comes with its own reason.
    SELECT request_key,
           min(primary_need) AS primary_need,
           max(transferred) AS transferred,
           max(cease) AS cease
    FROM (
        SELECT request_key, sen_type AS primary_need, 0 AS transferred, CAST(NULL AS VARCHAR) AS cease
        FROM sen_need
        WHERE sen_type_rank = 1
        UNION ALL
        SELECT request_key, CAST(NULL AS VARCHAR), CASE WHEN transfer_la IS NOT NULL THEN 1 ELSE 0 END,
               CAST(NULL AS VARCHAR)
        FROM active_plan
        UNION ALL
        SELECT c.kept_ref, CAST(NULL AS VARCHAR), 0,
               CAST(np.cease_date AS VARCHAR) || '|' || COALESCE(np.cease_reason, '')
        FROM named_plan np
        JOIN sen2_request_copy c ON c.request_key = np.request_key
        WHERE np.cease_date IS NOT NULL
    ) x
    GROUP BY request_key
),
sen2 AS (
    SELECT fr.person_key, fr.la_code, fr.source_system, fr.request_ref, fr.received_date,
           p.start_date, COALESCE(fa.week20_exception, false) AS week20_exception,
           fr.is_historical OR COALESCE(fa.is_historical, false) AS is_historical,
           COALESCE(e.transferred = 1, false) AS is_transferred_in,
           fa.assessment_outcome, e.primary_need,
           COALESCE(CAST(split_part(e.cease, '|', 1) AS DATE), p.cease_date) AS cease_date,
           CASE WHEN e.cease IS NOT NULL THEN NULLIF(split_part(e.cease, '|', 2), '') ELSE p.cease_reason END AS cease_reason
    FROM named_plan p
    JOIN fact_request fr ON fr.source_system = 'sen2' AND fr.request_ref = p.request_key
    LEFT JOIN fact_assessment fa ON fa.source_system = 'sen2' AND fa.request_ref = p.request_key
    LEFT JOIN extras e ON e.request_key = p.request_key
),
cms_plans AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.request_id ORDER BY c.updated_at DESC) AS rn
    FROM cms_plan c
    WHERE c.start_date IS NOT NULL
),
cms AS (
    SELECT fr.person_key, fr.la_code, fr.source_system, fr.request_ref, fr.received_date,
           p.start_date, COALESCE(fa.week20_exception, false),
           fr.is_historical OR COALESCE(fa.is_historical, false),
           p.transfer_from_la IS NOT NULL, fa.assessment_outcome, p.primary_need,
           p.cease_date, p.cease_reason
    FROM cms_plans p
    JOIN fact_request fr ON fr.source_system = 'council_cms' AND fr.request_ref = p.request_id
    LEFT JOIN fact_assessment fa ON fa.source_system = 'council_cms' AND fa.request_ref = p.request_id
    WHERE p.rn = 1
),
plans AS (
    SELECT *, assessment_outcome = 'Y' AND NOT is_historical AND NOT is_transferred_in AS scope
    FROM (SELECT * FROM sen2 UNION ALL SELECT * FROM cms) u
)
SELECT person_key, la_code, source_system, request_ref, received_date, start_date,
       CAST(start_date - received_date AS INT) AS days_to_issue,
       CAST(start_date - received_date AS DOUBLE) / 7.0 AS weeks_to_issue,
       CASE WHEN COALESCE(scope, false) AND received_date IS NOT NULL THEN
            CASE WHEN start_date - received_date <= 140 THEN 'within_20_weeks'
                 WHEN start_date < received_date + INTERVAL '1 year' THEN 'gt20weeks_ltyear'
                 ELSE 'gt_1_year' END
       END AS timeliness_band,
       week20_exception, is_historical, is_transferred_in,
       COALESCE(scope, false) AS in_timeliness_scope,
       primary_need, cease_date, cease_reason
FROM plans
