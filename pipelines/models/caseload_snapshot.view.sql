-- Each active EHC plan on each snapshot day (fact_caseload), once in each of the child's areas
-- (child_geography: the LA and the district, locality and quadrant the child lives in), in the
-- period the snapshot stands for: a month end is its month, the SEN2 census day (in January)
-- its calendar_year. The caseload KPIs (kpi_caseload_need, kpi_caseload_age, kpi_placements)
-- and kpi_annual_reviews count these rows.
SELECT c.*, g.geography_level, g.geography_code,
       CASE WHEN c.snapshot_type = 'month_end' THEN 'month' ELSE 'calendar_year' END AS period_type,
       CASE WHEN c.snapshot_type = 'month_end' THEN CAST(date_trunc('month', c.snapshot_date) AS DATE)
            ELSE CAST(date_trunc('year', c.snapshot_date) AS DATE) END AS period_start
FROM fact_caseload c
JOIN child_geography g ON g.person_key = c.person_key AND g.la_code = c.la_code
