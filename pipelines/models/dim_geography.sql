-- Every area a KPI row can be reported for. Districts carry the NHS bodies covering them,
-- one row per validity span (the ICB changes on 1 April 2026), so a fact dated before the
-- change joins the old ICB and one after it the new. Unversioned rows span 1900-01-01 to
-- 9999-12-31 so range joins never need a null check. Every LA is an area, configured or not.
WITH configured AS (
    SELECT geography_level, geography_code, geography_name, la_code, la_name, district_code,
           locality_code, quadrant, icb_code, icb_name, sub_icb_code, sub_icb_name,
           COALESCE(valid_from, DATE '1900-01-01') AS valid_from,
           COALESCE(valid_to, DATE '9999-12-31') AS valid_to
    FROM ref_geography
    WHERE geography_level <> 'la'
),
las AS (
    SELECT 'la' AS geography_level, la_code AS geography_code, la_name AS geography_name,
           la_code, la_name, CAST(NULL AS VARCHAR) AS district_code, CAST(NULL AS VARCHAR) AS locality_code,
           CAST(NULL AS VARCHAR) AS quadrant, CAST(NULL AS VARCHAR) AS icb_code, CAST(NULL AS VARCHAR) AS icb_name,
           CAST(NULL AS VARCHAR) AS sub_icb_code, CAST(NULL AS VARCHAR) AS sub_icb_name,
           DATE '1900-01-01' AS valid_from, DATE '9999-12-31' AS valid_to
    FROM ref_local_authority
),
icbs AS (
    SELECT 'icb' AS geography_level, icb_code AS geography_code, max(icb_name) AS geography_name,
           min(la_code) AS la_code, min(la_name) AS la_name, CAST(NULL AS VARCHAR) AS district_code,
           CAST(NULL AS VARCHAR) AS locality_code, CAST(NULL AS VARCHAR) AS quadrant,
           icb_code, max(icb_name) AS icb_name, CAST(NULL AS VARCHAR) AS sub_icb_code,
           CAST(NULL AS VARCHAR) AS sub_icb_name, min(valid_from) AS valid_from, max(valid_to) AS valid_to
    FROM configured
    WHERE icb_code IS NOT NULL
    GROUP BY icb_code
),
regions AS (
    SELECT DISTINCT 'region' AS geography_level, region_code AS geography_code, region_name AS geography_name
    FROM ref_local_authority
    WHERE region_code IS NOT NULL
),
above_la AS (
    SELECT geography_level, geography_code, geography_name FROM regions
    UNION ALL
    SELECT 'national', 'E92000001', 'England'
),
all_rows AS (
    SELECT * FROM configured
    UNION ALL
    SELECT * FROM las
    UNION ALL
    SELECT * FROM icbs
    UNION ALL
    SELECT geography_level, geography_code, geography_name, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
           CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
           CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
           DATE '1900-01-01', DATE '9999-12-31'
    FROM above_la
)
SELECT *, (valid_from <= CURRENT_DATE AND CURRENT_DATE <= valid_to) AS is_current
FROM all_rows
