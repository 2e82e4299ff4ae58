-- Family and young people's feedback, by quarter and calendar year, for the LA and each
-- quadrant, by respondent group and for all respondents: responses with an overall rating,
-- the % rating 4 or 5 of 5, and mean ratings.
WITH answers AS (
    SELECT a.*, t.period_type,
           CASE WHEN t.period_type = 'quarter' THEN CAST(date_trunc('quarter', a.submitted_date) AS DATE)
                ELSE CAST(date_trunc('year', a.submitted_date) AS DATE) END AS period_start
    FROM family_feedback a
    CROSS JOIN (VALUES ('quarter'), ('calendar_year')) AS t(period_type)
    WHERE a.rating_overall IS NOT NULL
),
groups AS (
    SELECT a.*, a.respondent_group AS grp FROM answers a
    UNION ALL
    SELECT a.*, 'all' FROM answers a
),
areas AS (
    SELECT g.*, 'la' AS geography_level, '919' AS geography_code FROM groups g
    UNION ALL
    SELECT g.*, 'quadrant', g.locality AS quadrant_code FROM groups g WHERE g.locality IS NOT NULL
),
figures AS (
    SELECT period_type, period_start, geography_level, geography_code, '919' AS la_code,
           'family_feedback' AS source, grp AS respondent_group,
           count(*) AS responses,
           sum(CASE WHEN rating_overall >= 4 THEN 1 ELSE 0 END) AS rated_good_or_better,
           avg(CAST(rating_overall AS DOUBLE)) AS mean_rating_overall,
           avg(CAST(rating_listened_to AS DOUBLE)) AS mean_rating_listened_to,
           avg(CAST(rating_kept_informed AS DOUBLE)) AS mean_rating_kept_informed
    FROM areas
    GROUP BY period_type, period_start, geography_level, geography_code, grp
)
SELECT f.*, 100.0 * rated_good_or_better / NULLIF(responses, 0) AS pc_rated_good_or_better
FROM figures f
