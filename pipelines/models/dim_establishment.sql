-- Schools, colleges and providers from the latest GIAS extract, with the placement group of
-- their DfE category.
WITH latest AS (
    SELECT g.*, row_number() OVER (PARTITION BY g.urn ORDER BY g.loaded_at DESC) AS rn
    FROM gias_establishment g
)
SELECT l.urn, l.ukprn, l.establishment_name, l.la_code, l.type_code, l.type_name, l.type_group,
       l.phase, l.status, l.setting_category, c.main_group AS setting_group, l.district_code,
       l.district_name, l.sen_unit_capacity, l.resourced_provision_capacity, l.open_date, l.close_date
FROM latest l
LEFT JOIN ref_code c ON c.list_name = 'placement_category' AND c.code = l.setting_category
WHERE l.rn = 1
