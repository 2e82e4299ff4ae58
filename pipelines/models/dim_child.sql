-- One row per child per LA. The degraded quasi-identifiers come from the most recent record:
-- the council's live case-management system first (newest update), then the latest SEN2
-- return. The postcode district places the child in a district, locality and quadrant.
--
-- The most recent record is the max of one sortable string per record: source rank (2 for
-- the council's system, 1 for SEN2), then recency, then the attributes themselves (which also
-- break ties), separated by chr(0); the attributes are split out again after. A grouped max
-- over strings is cheap in DataFusion, where a window or an ordered first_value pays per
-- child (measured at national scale in docs/benchmarks.md). An empty attribute reads as null.
WITH seen AS (
    SELECT person_key, la_code, birth_month, sex, ethnicity, postcode_district,
           '2' || COALESCE(CAST(updated_at AS VARCHAR), '') AS recency
    FROM cms_request
    UNION ALL
    SELECT person_key, la_code, birth_month, sex, ethnicity, postcode_district,
           '1' || CAST(collection_year AS VARCHAR) AS recency
    FROM person
),
latest AS (
    SELECT person_key, la_code,
           max(recency || chr(0) || COALESCE(CAST(birth_month AS VARCHAR), '') || chr(0)
               || COALESCE(sex, '') || chr(0) || COALESCE(ethnicity, '') || chr(0)
               || COALESCE(postcode_district, '')) AS latest,
           max(CASE WHEN recency LIKE '1%' THEN 1 ELSE 0 END) AS in_sen2,
           max(CASE WHEN recency LIKE '2%' THEN 1 ELSE 0 END) AS in_cms
    FROM seen
    GROUP BY person_key, la_code
),
child AS (
    SELECT person_key, la_code, in_sen2, in_cms,
           CAST(NULLIF(split_part(latest, chr(0), 2), '') AS DATE) AS birth_month,
           NULLIF(split_part(latest, chr(0), 3), '') AS sex,
           NULLIF(split_part(latest, chr(0), 4), '') AS ethnicity,
           NULLIF(split_part(latest, chr(0), 5), '') AS postcode_district
    FROM latest
),
health AS (
    SELECT DISTINCT person_key FROM health_referral
)
SELECT c.person_key, c.la_code, c.birth_month, c.sex, c.ethnicity, c.postcode_district,
       b.district_code, b.locality_code, b.quadrant,
       c.in_sen2 = 1 AS in_sen2, c.in_cms = 1 AS in_council_cms,
       h.person_key IS NOT NULL AS in_health
FROM child c
LEFT JOIN ref_geo_bridge b ON b.postcode_district = c.postcode_district AND b.la_code = c.la_code
LEFT JOIN health h ON h.person_key = c.person_key
