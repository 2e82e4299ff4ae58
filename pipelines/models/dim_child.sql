-- One row per child per LA. The degraded quasi-identifiers come from the most recent record:
-- the council's live case-management system first (newest update), then the latest SEN2
-- return. The postcode district places the child in a district, locality and quadrant.
WITH seen AS (
    SELECT person_key, la_code, birth_month, sex, ethnicity, postcode_district,
           1 AS priority, COALESCE(CAST(updated_at AS VARCHAR), '') AS recency
    FROM cms_request
    UNION ALL
    SELECT person_key, la_code, birth_month, sex, ethnicity, postcode_district,
           2 AS priority, CAST(collection_year AS VARCHAR) AS recency
    FROM person
),
ranked AS (
    SELECT s.*, row_number() OVER (
        PARTITION BY person_key, la_code ORDER BY priority, recency DESC
    ) AS rn
    FROM seen s
),
flags AS (
    SELECT person_key, la_code,
           max(CASE WHEN priority = 2 THEN 1 ELSE 0 END) AS in_sen2,
           max(CASE WHEN priority = 1 THEN 1 ELSE 0 END) AS in_cms
    FROM seen
    GROUP BY person_key, la_code
),
health AS (
    SELECT DISTINCT person_key FROM health_referral
)
SELECT r.person_key, r.la_code, r.birth_month, r.sex, r.ethnicity, r.postcode_district,
       b.district_code, b.locality_code, b.quadrant,
       f.in_sen2 = 1 AS in_sen2, f.in_cms = 1 AS in_council_cms,
       h.person_key IS NOT NULL AS in_health
FROM ranked r
JOIN flags f ON f.person_key = r.person_key AND f.la_code = r.la_code
LEFT JOIN ref_geo_bridge b ON b.postcode_district = r.postcode_district AND b.la_code = r.la_code
LEFT JOIN health h ON h.person_key = r.person_key
WHERE r.rn = 1
