-- The DfE placement taxonomy, each category with its group.
SELECT c.code AS setting_category, c.label AS setting_category_label,
       c.main_group AS setting_group, g.label AS setting_group_label
FROM ref_code c
JOIN ref_code g ON g.list_name = c.list_name AND g.code = c.main_group
WHERE c.list_name = 'placement_category'
