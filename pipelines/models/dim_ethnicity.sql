-- CBDS ethnicity codes, main and extended, each with the main (SEN2) code it counts under.
SELECT c.code AS ethnicity, c.label AS ethnicity_label,
       COALESCE(c.main_group, c.code) AS main_group,
       COALESCE(g.label, c.label) AS main_group_label
FROM ref_code c
LEFT JOIN ref_code g ON g.list_name = c.list_name AND g.code = c.main_group
WHERE c.list_name = 'ethnicity'
