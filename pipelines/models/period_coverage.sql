-- The periods each local source's data covers wholly, per LA: one row per whole period (month
-- and calendar year). A KPI row whose period is not here is partial (`period_complete` false):
-- its figure is not yet the period's, so it gets no red/amber/green and headlines leave it out.
--   * SEN2: a return of collection year Y covers its activity period, the calendar year Y-1.
--     A return also holds earlier requests still open then, so the year before the earliest
--     return has some of its events and is partial; so is the census year itself.
--   * The council's case-management system is live: every period that ended before the
--     current month is whole.
-- The DfE's published figures are whole by definition (the KPI models say so for them).
WITH spans AS (
    SELECT DISTINCT 'sen2' AS source, la_code,
           make_date(CAST(collection_year AS INT) - 1, 1, 1) AS covered_from,
           make_date(CAST(collection_year AS INT) - 1, 12, 31) AS covered_to
    FROM person
    UNION ALL
    SELECT DISTINCT 'council_cms', la_code, DATE '1900-01-01',
           CAST(CAST(date_trunc('month', current_date()) AS DATE) - INTERVAL '1 day' AS DATE)
    FROM cms_request
    WHERE la_code IS NOT NULL
),
periods AS (
    SELECT DISTINCT 'month' AS period_type, CAST(date_trunc('month', date) AS DATE) AS period_start,
           CAST(CAST(date_trunc('month', date) AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS period_end
    FROM dim_date
    UNION ALL
    SELECT DISTINCT 'calendar_year', CAST(date_trunc('year', date) AS DATE),
           CAST(CAST(date_trunc('year', date) AS DATE) + INTERVAL '1 year' - INTERVAL '1 day' AS DATE)
    FROM dim_date
)
SELECT DISTINCT p.period_type, p.period_start, s.source, s.la_code
FROM periods p
JOIN spans s ON s.covered_from <= p.period_start AND s.covered_to >= p.period_end
