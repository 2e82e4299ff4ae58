-- Annual review timeliness on each snapshot day: of the active plans issued at least 12
-- months before (due a review), how many had a review meeting in the 12 months up to the
-- snapshot; and of those, how many had the LA's decision within 4 weeks of the meeting. A
-- decision dated before its meeting belongs to an earlier review (REVIEW_DECISION_BEFORE_MEETING
-- warns of it): it is not a decision within 4 weeks of this one.
WITH due AS (
    SELECT s.*, s.review_meeting_date > s.snapshot_date - INTERVAL '1 year' AS reviewed
    FROM caseload_snapshot s
    WHERE s.plan_start_date <= s.snapshot_date - INTERVAL '1 year'
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, la_code, source_system AS source,
           count(*) AS plans_due_review,
           sum(CASE WHEN reviewed THEN 1 ELSE 0 END) AS reviews_within_12_months,
           sum(CASE WHEN reviewed AND last_review_date IS NOT NULL THEN 1 ELSE 0 END) AS reviews_with_decision,
           sum(CASE WHEN reviewed AND last_review_date - review_meeting_date BETWEEN 0 AND 28 THEN 1 ELSE 0 END) AS reviews_decision_within_4_weeks
    FROM due
    GROUP BY period_type, period_start, geography_level, geography_code, la_code, source_system
)
SELECT f.*,
       100.0 * reviews_within_12_months / NULLIF(plans_due_review, 0) AS pc_reviews_within_12_months,
       100.0 * reviews_decision_within_4_weeks / NULLIF(reviews_with_decision, 0) AS pc_reviews_decision_within_4_weeks,
       -- A snapshot is whole by construction (see the column's description).
       TRUE AS period_complete
FROM figures f
