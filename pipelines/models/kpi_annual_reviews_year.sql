-- Annual reviews in the calendar year, as the DfE counts them from 2026 (send-domain.md §3.5,
-- docs/kpi-definitions.md): of the plans whose annual review fell due in the year, those
-- reviewed in it, and of those, the LA's decision within 4 weeks of the meeting or not. Year Y
-- is read from the plans active on the census day in January of Y+1 (SEN2 Module 5a, which
-- gives each active plan's latest review meeting and decision; the council's system is read
-- on the same day):
--   * review_expected: active plans issued before 1 January Y, so a review was due in Y;
--   * review_completed: of those, with the latest review meeting dated in Y;
--   * decision_4_weeks: of those, the decision no more than 28 days after the meeting;
--     over_4_weeks the rest, so the two add up to review_completed as the DfE's do. A review
--     with no decision date is over 4 weeks; so is a decision dated before its meeting (it
--     belongs to an earlier review: REVIEW_DECISION_BEFORE_MEETING warns of it).
WITH plans AS (
    SELECT c.*, g.geography_level, g.geography_code,
           make_date(CAST(date_part('year', c.snapshot_date) AS INT) - 1, 1, 1) AS period_start
    FROM fact_caseload c
    JOIN child_geography g ON g.person_key = c.person_key AND g.la_code = c.la_code
    WHERE c.snapshot_type = 'census'
),
expected AS (
    SELECT p.*,
           p.review_meeting_date >= p.period_start
             AND p.review_meeting_date < CAST(p.period_start + INTERVAL '1 year' AS DATE) AS completed,
           COALESCE(p.last_review_date - p.review_meeting_date BETWEEN 0 AND 28, false) AS within_4_weeks
    FROM plans p
    WHERE p.plan_start_date < p.period_start
),
local_rows AS (
    SELECT 'calendar_year' AS period_type, period_start, geography_level, geography_code, la_code,
           source_system AS source,
           count(*) AS review_expected,
           sum(CASE WHEN completed THEN 1 ELSE 0 END) AS review_completed,
           sum(CASE WHEN completed THEN 0 ELSE 1 END) AS review_not_completed,
           sum(CASE WHEN completed AND within_4_weeks THEN 1 ELSE 0 END) AS decision_4_weeks,
           sum(CASE WHEN completed AND NOT within_4_weeks THEN 1 ELSE 0 END) AS over_4_weeks
    FROM expected
    GROUP BY period_start, geography_level, geography_code, la_code, source_system
),
-- The DfE's annual reviews file names its columns with the year (`review_expected_2025`,
-- `review_completed_2025`): the stem is the column here, and the year in the name places the
-- row, for every figure of the same file row (`decision_4_weeks`, `over_4_weeks`).
dfe_named AS (
    SELECT f.*,
           CASE WHEN regexp_like(f.indicator, '_[0-9]{4}$')
                THEN left(f.indicator, CAST(character_length(f.indicator) - 5 AS INT))
                ELSE f.indicator END AS stem
    FROM dfe_figure f
    WHERE f.filter_key = ''
      AND f.data_set_id IN (SELECT data_set_id FROM dfe_figure WHERE starts_with(indicator, 'review_expected_'))
),
dfe_year AS (
    SELECT data_set_id, period_start, geography_level, geography_code,
           make_date(CAST(max(right(indicator, 4)) AS INT), 1, 1) AS review_year
    FROM dfe_named
    WHERE stem = 'review_expected'
    GROUP BY data_set_id, period_start, geography_level, geography_code
),
dfe_rows AS (
    SELECT 'calendar_year' AS period_type, y.review_year AS period_start, n.geography_level,
           n.geography_code, max(n.la_code) AS la_code, 'dfe_published' AS source,
           CAST(max(CASE WHEN n.stem = 'review_expected' THEN n.value END) AS BIGINT) AS review_expected,
           CAST(max(CASE WHEN n.stem = 'review_completed' THEN n.value END) AS BIGINT) AS review_completed,
           CAST(max(CASE WHEN n.stem = 'review_not_completed' THEN n.value END) AS BIGINT) AS review_not_completed,
           CAST(max(CASE WHEN n.stem = 'decision_4_weeks' THEN n.value END) AS BIGINT) AS decision_4_weeks,
           CAST(max(CASE WHEN n.stem = 'over_4_weeks' THEN n.value END) AS BIGINT) AS over_4_weeks
    FROM dfe_named n
    JOIN dfe_year y
      ON y.data_set_id = n.data_set_id AND y.period_start = n.period_start
     AND y.geography_level = n.geography_level AND y.geography_code = n.geography_code
    GROUP BY y.review_year, n.geography_level, n.geography_code
),
k AS (
    SELECT * FROM local_rows
    UNION ALL
    SELECT * FROM dfe_rows
)
-- period_complete: whether the row's year is wholly covered by its source (period_coverage:
-- a SEN2 return's activity year; the DfE's published figures always are).
SELECT x.period_type, x.period_start, x.geography_level, x.geography_code, x.la_code, x.source,
       x.review_expected, x.review_completed, x.review_not_completed,
       x.decision_4_weeks, x.over_4_weeks,
       100.0 * x.review_completed / NULLIF(x.review_expected, 0) AS review_completed_pc,
       100.0 * x.decision_4_weeks / NULLIF(x.review_completed, 0) AS decision_4_weeks_pc,
       100.0 * x.over_4_weeks / NULLIF(x.review_completed, 0) AS over_4_weeks_pc,
       (x.source = 'dfe_published' OR pc.source IS NOT NULL) AS period_complete
FROM k x
LEFT JOIN period_coverage pc
  ON pc.period_type = x.period_type AND pc.period_start = x.period_start
 AND pc.source = x.source AND pc.la_code = x.la_code
