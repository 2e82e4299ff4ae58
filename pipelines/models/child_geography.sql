-- Each child's areas at every level, so a KPI groups a fact by area with one join: the LA
-- row always; district, locality and quadrant rows where the postcode district maps.
SELECT person_key, la_code, 'la' AS geography_level, la_code AS geography_code FROM dim_child
UNION ALL
SELECT person_key, la_code, 'district', district_code FROM dim_child WHERE district_code IS NOT NULL
UNION ALL
SELECT person_key, la_code, 'locality', locality_code FROM dim_child WHERE locality_code IS NOT NULL
UNION ALL
SELECT person_key, la_code, 'quadrant', quadrant FROM dim_child WHERE quadrant IS NOT NULL
