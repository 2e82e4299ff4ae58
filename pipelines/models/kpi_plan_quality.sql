-- Quality of EHC plans from the council's audits, by quarter and calendar year, for the LA
-- and each quadrant (the audit records the quadrant as its locality).
WITH audits AS (
    SELECT a.*, t.period_type,
           CASE WHEN t.period_type = 'quarter' THEN CAST(date_trunc('quarter', a.audit_date) AS DATE)
                ELSE CAST(date_trunc('year', a.audit_date) AS DATE) END AS period_start
    FROM plan_quality_audit a
    CROSS JOIN (VALUES ('quarter'), ('calendar_year')) AS t(period_type)
),
areas AS (
    SELECT a.*, 'la' AS geography_level, COALESCE(a.la_code, '919') AS geography_code FROM audits a
    UNION ALL
    SELECT a.*, 'quadrant', a.locality AS quadrant_code FROM audits a WHERE a.locality IS NOT NULL
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, COALESCE(la_code, '919') AS la_code,
           'quality_audit' AS source,
           count(*) AS plans_audited,
           sum(CASE WHEN overall_grade = 'outstanding' THEN 1 ELSE 0 END) AS outstanding,
           sum(CASE WHEN overall_grade = 'good' THEN 1 ELSE 0 END) AS good,
           sum(CASE WHEN overall_grade = 'requires_improvement' THEN 1 ELSE 0 END) AS requires_improvement,
           sum(CASE WHEN overall_grade = 'inadequate' THEN 1 ELSE 0 END) AS inadequate,
           sum(CASE WHEN overall_grade IN ('outstanding', 'good') THEN 1 ELSE 0 END) AS plans_good_or_better
    FROM areas
    GROUP BY period_type, period_start, geography_level, geography_code, COALESCE(la_code, '919')
)
SELECT f.*, 100.0 * plans_good_or_better / NULLIF(plans_audited, 0) AS pc_good_or_better
FROM figures f
