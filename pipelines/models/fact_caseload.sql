-- Active EHC plans on each snapshot day:
--   * SEN2: the plans a return lists as active, on that return's census day;
--   * the council's system: every plan open (issued on or before, not ceased by) each census
--     day and each month end up to the day of the run.
-- Need: the primary need; placement: the main (rank 1) placement open on the snapshot day.
-- Review dates after the snapshot day are ignored, so a past snapshot shows what was known.
-- Age: the child's age at the 31 August on or before the snapshot day (the start of the
-- academic year the snapshot falls in: 31 August 2025 for the January 2026 census), the DfE's
-- age for the caseload. From the birth month alone it is exact, because 31 August is the last
-- day of its month: a child born in January to August has had that year's birthday by then,
-- one born in September to December has not. No birth month, no age (the KPIs say `unknown`).
WITH need AS (
    SELECT request_key, min(sen_type) AS primary_need
    FROM sen_need
    WHERE sen_type_rank = 1
    GROUP BY request_key
),
snaps AS (
    SELECT ap.person_key, ap.la_code, 'sen2' AS source_system, ap.request_key AS request_ref,
           'census' AS snapshot_type, d.date AS snapshot_date, np.start_date AS plan_start_date,
           n.primary_need, ap.review_meeting_date, ap.last_review_date
    FROM active_plan ap
    JOIN dim_date d ON d.is_census_date AND d.year = ap.collection_year
    LEFT JOIN named_plan np ON np.request_key = ap.request_key
    LEFT JOIN need n ON n.request_key = ap.request_key
    UNION ALL
    SELECT r.person_key, r.la_code, 'council_cms', p.request_id,
           CASE WHEN d.is_census_date THEN 'census' ELSE 'month_end' END, d.date, p.start_date,
           p.primary_need,
           CASE WHEN p.review_meeting_date <= d.date THEN p.review_meeting_date END,
           CASE WHEN p.last_review_date <= d.date THEN p.last_review_date END
    FROM (
        SELECT c.*, row_number() OVER (PARTITION BY c.request_id ORDER BY c.updated_at DESC) AS rn
        FROM cms_plan c
        WHERE c.start_date IS NOT NULL
    ) p
    JOIN cms_request r ON r.record_id = p.request_id
    JOIN dim_date d
      ON (d.is_month_end OR d.is_census_date)
     AND d.date >= p.start_date
     AND (p.cease_date IS NULL OR d.date < p.cease_date)
     AND d.date <= CURRENT_DATE
    WHERE p.rn = 1
),
placed AS (
    -- The main placement open on the snapshot day that started last (one without an entry
    -- date counts as the latest; ties go to the greater placement_ref), picked as the max of
    -- one sortable string that carries its category and group: a grouped max is cheap, where
    -- a window or an ordered first_value pays per snapshot in DataFusion (docs/benchmarks.md).
    SELECT s.source_system, s.request_ref, s.snapshot_type, s.snapshot_date,
           max(COALESCE(CAST(fp.entry_date AS VARCHAR), '9999-12-31') || chr(0)
               || fp.placement_ref || chr(0) || fp.setting_category || chr(0)
               || fp.setting_group) AS latest
    FROM snaps s
    JOIN fact_placement fp
      ON fp.source_system = s.source_system AND fp.request_ref = s.request_ref
     AND fp.placement_rank = 1
     AND (fp.entry_date IS NULL OR fp.entry_date <= s.snapshot_date)
     AND (fp.leaving_date IS NULL OR fp.leaving_date > s.snapshot_date)
    GROUP BY s.source_system, s.request_ref, s.snapshot_type, s.snapshot_date
)
SELECT s.person_key, s.la_code, s.source_system, s.request_ref, s.snapshot_type, s.snapshot_date,
       s.plan_start_date, s.primary_need,
       COALESCE(split_part(pl.latest, chr(0), 3), 'placement_unknown') AS setting_category,
       COALESCE(split_part(pl.latest, chr(0), 4), 'unknown') AS setting_group,
       s.review_meeting_date, s.last_review_date,
       CAST(date_part('year', s.snapshot_date) AS INT)
         - CASE WHEN date_part('month', s.snapshot_date) < 8
                  OR (date_part('month', s.snapshot_date) = 8 AND date_part('day', s.snapshot_date) < 31)
                THEN 1 ELSE 0 END
         - CAST(date_part('year', c.birth_month) AS INT)
         - CASE WHEN date_part('month', c.birth_month) > 8 THEN 1 ELSE 0 END AS age_at_31_august
FROM snaps s
LEFT JOIN placed pl
  ON pl.source_system = s.source_system AND pl.request_ref = s.request_ref
 AND pl.snapshot_type = s.snapshot_type AND pl.snapshot_date = s.snapshot_date
LEFT JOIN dim_child c ON c.person_key = s.person_key AND c.la_code = s.la_code
