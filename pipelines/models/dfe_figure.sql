-- The DfE's published figures (ees_observation: its files, sources/dfe_files.toml, and its
-- API, sources/dfe_ees.toml) keyed as every KPI table keys its rows, so each KPI model only
-- picks its indicators. One place for what the DfE's time periods and locations mean here:
--   * calendar-year figures are the year's events; academic-year figures (the January
--     caseload: 202425) are the census of January of the academic year's second year;
--   * LA rows are keyed by the three-digit LA code that joins the rest of the lake, regions
--     by their ONS code, England by E92000001;
--   * the rows for all children have filter_key '': the API's unfiltered rows, its age_group
--     Total, and the files' "All ..." breakdown (their breakdown columns are read as filters;
--     a file's all-children row has the same "All ..." label as breakdown and topic).
--     Other breakdowns keep their key.
SELECT 'calendar_year' AS period_type,
       CASE WHEN e.time_identifier = 'Academic year'
            THEN CAST(CAST(CAST(substr(e.time_period, 1, 4) AS INT) + 1 AS VARCHAR) || '-01-01' AS DATE)
            ELSE CAST(substr(e.time_period, 1, 4) || '-01-01' AS DATE) END AS period_start,
       CASE e.geographic_level WHEN 'Local authority' THEN 'la' WHEN 'Regional' THEN 'region' ELSE 'national' END AS geography_level,
       CASE e.geographic_level
            WHEN 'Local authority' THEN e.la_code
            WHEN 'Regional' THEN COALESCE(e.region_code, e.location_code)
            ELSE COALESCE(e.country_code, e.location_code, 'E92000001') END AS geography_code,
       CASE WHEN e.geographic_level = 'Local authority' THEN e.la_code END AS la_code,
       e.data_set_id,
       e.indicator,
       CASE WHEN COALESCE(e.filter_key, '') IN (
                 '', 'age_group=Total',
                 'breakdown=All EHC plans;breakdown_topic=All EHC plans',
                 'breakdown=All requests for an EHC needs assessment;breakdown_topic=All requests for an EHC needs assessment')
            THEN ''
            -- Any other file's "All ..." row (the assessments and annual reviews files name
            -- theirs after their subject): the breakdown and its topic are the same "All" label.
            WHEN starts_with(e.filter_key, 'breakdown=All ')
                 AND e.filter_key = 'breakdown=' || substr(e.filter_key, 11, strpos(e.filter_key, ';') - 11)
                                    || ';breakdown_topic=' || substr(e.filter_key, 11, strpos(e.filter_key, ';') - 11)
            THEN ''
            ELSE e.filter_key END AS filter_key,
       e.value,
       e.status
FROM ees_observation e
WHERE e.time_identifier IN ('Calendar year', 'Academic year')
  AND e.geographic_level IN ('Local authority', 'Regional', 'National')
