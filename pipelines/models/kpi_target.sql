-- The targets file, published so reports can show targets beside the KPIs.
SELECT kpi, geography_level, geography_code, period_type, valid_from, valid_to, target,
       direction, amber_within
FROM ref_target
