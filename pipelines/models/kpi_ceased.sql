-- EHC plans ceased in the period, by reason, as the DfE's ceased plans data set. A plan
-- ceased without a recorded reason counts under `other`, so the reasons add up to the total.
WITH ceased AS (
    SELECT f.*, g.geography_level, g.geography_code, t.period_type,
           CASE WHEN t.period_type = 'month' THEN CAST(date_trunc('month', f.cease_date) AS DATE)
                ELSE CAST(date_trunc('year', f.cease_date) AS DATE) END AS period_start
    FROM fact_plan f
    JOIN child_geography g ON g.person_key = f.person_key AND g.la_code = f.la_code
    CROSS JOIN (VALUES ('month'), ('calendar_year')) AS t(period_type)
    WHERE f.cease_date IS NOT NULL
)
-- period_complete: whether the row's period is wholly covered by its source (period_coverage;
-- the DfE's published figures always are).
SELECT x.*, (x.source = 'dfe_published' OR pc.source IS NOT NULL) AS period_complete
FROM (
SELECT period_type, period_start, geography_level, geography_code, la_code, source_system AS source,
           sum(CASE WHEN cease_reason = '1' THEN 1 ELSE 0 END) AS max_age,
           sum(CASE WHEN cease_reason = '2' THEN 1 ELSE 0 END) AS needs_met,
           sum(CASE WHEN cease_reason = '3' THEN 1 ELSE 0 END) AS he,
           sum(CASE WHEN cease_reason = '4' THEN 1 ELSE 0 END) AS employ,
           sum(CASE WHEN cease_reason = '5' THEN 1 ELSE 0 END) AS transfer,
           sum(CASE WHEN cease_reason = '6' THEN 1 ELSE 0 END) AS no_engage,
           sum(CASE WHEN cease_reason = '7' THEN 1 ELSE 0 END) AS moved_outside_eng,
           sum(CASE WHEN cease_reason = '8' THEN 1 ELSE 0 END) AS deceased,
           sum(CASE WHEN (cease_reason = '9' OR cease_reason IS NULL OR cease_reason NOT IN ('1','2','3','4','5','6','7','8')) THEN 1 ELSE 0 END) AS other,
           count(*) AS total_ceased
FROM ceased
GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
) x
LEFT JOIN period_coverage pc
  ON pc.period_type = x.period_type AND pc.period_start = x.period_start
 AND pc.source = x.source AND pc.la_code = x.la_code
