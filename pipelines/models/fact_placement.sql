-- Placements, each with its DfE placement category (send-domain.md §4.5):
--   1. a URN found in GIAS: the establishment's category; mainstream LA-maintained schools,
--      academies and free schools split by SEN unit, then resourced provision;
--   2. a UKPRN without a URN: the GIAS category of that provider, else `ukrlp_provider`;
--   3. otherwise the SEN2 setting code (EHE, OLA, OPA, EYP, NEET, NIEC, NIEO, OTH);
--   4. a URN or UKPRN not in GIAS, or nothing at all: `placement_unknown`.
-- SEN2 placements are kept per return (the census snapshot of each return joins them); a
-- return's placements of one plan have distinct ranks (the loader quarantines a repeated
-- rank), so the request and rank name a SEN2 placement.
-- Dual registration: another placement of a different rank for the same plan over an
-- overlapping span.
WITH raw AS (
    SELECT person_key, la_code, 'sen2' AS source_system,
           request_key || '/' || CAST(placement_rank AS VARCHAR) AS placement_ref,
           request_key AS request_ref, placement_rank, urn, ukprn, sen_setting, sen_unit,
           resourced_provision, entry_date, leaving_date
    FROM placement
    UNION ALL
    SELECT pl.person_key, COALESCE(r.la_code, c.la_code, 'unknown'), 'council_cms', pl.record_id,
           p.request_id, pl.placement_rank, pl.urn, pl.ukprn, pl.sen_setting, pl.sen_unit,
           pl.resourced_provision, pl.entry_date, pl.leaving_date
    FROM cms_placement pl
    LEFT JOIN cms_plan p ON p.record_id = pl.plan_id
    LEFT JOIN cms_request r ON r.record_id = p.request_id
    LEFT JOIN (SELECT person_key, min(la_code) AS la_code FROM dim_child GROUP BY person_key) c
        ON c.person_key = pl.person_key
),
by_ukprn AS (
    SELECT ukprn, min(setting_category) AS setting_category
    FROM dim_establishment
    WHERE ukprn IS NOT NULL
    GROUP BY ukprn
),
categorised AS (
    SELECT raw.*,
        CASE
            WHEN raw.urn IS NOT NULL AND e.setting_category IS NOT NULL THEN
                CASE WHEN e.setting_category IN ('mainstream_la_maintained', 'mainstream_academy', 'mainstream_free_school')
                          AND COALESCE(raw.sen_unit, false) THEN e.setting_category || '_senunit'
                     WHEN e.setting_category IN ('mainstream_la_maintained', 'mainstream_academy', 'mainstream_free_school')
                          AND COALESCE(raw.resourced_provision, false) THEN e.setting_category || '_resourced_provision'
                     ELSE e.setting_category END
            WHEN raw.urn IS NOT NULL THEN 'placement_unknown'
            WHEN raw.ukprn IS NOT NULL THEN COALESCE(u.setting_category, 'ukrlp_provider')
            WHEN raw.sen_setting = 'EHE' THEN 'elective_home_education'
            WHEN raw.sen_setting = 'OLA' THEN 'other_arrangements_la'
            WHEN raw.sen_setting = 'OPA' THEN 'other_arrangements_parents'
            WHEN raw.sen_setting = 'EYP' THEN 'nm_early_years'
            WHEN raw.sen_setting = 'NEET' THEN 'neet'
            WHEN raw.sen_setting = 'NIEC' THEN 'neet_ntci'
            WHEN raw.sen_setting = 'NIEO' THEN 'neet_other'
            WHEN raw.sen_setting = 'OTH' THEN 'other_placement_settings'
            ELSE 'placement_unknown'
        END AS setting_category
    FROM raw
    LEFT JOIN dim_establishment e ON e.urn = raw.urn
    LEFT JOIN by_ukprn u ON u.ukprn = raw.ukprn
),
dual AS (
    SELECT DISTINCT a.source_system, a.placement_ref
    FROM raw a
    JOIN raw b
      ON a.source_system = b.source_system AND a.request_ref = b.request_ref
     AND a.placement_rank <> b.placement_rank
     AND COALESCE(a.entry_date, DATE '1900-01-01') <= COALESCE(b.leaving_date, DATE '9999-12-31')
     AND COALESCE(b.entry_date, DATE '1900-01-01') <= COALESCE(a.leaving_date, DATE '9999-12-31')
)
SELECT c.person_key, c.la_code, c.source_system, c.placement_ref, c.request_ref, c.placement_rank,
       c.urn, c.ukprn, c.sen_setting, c.setting_category, g.main_group AS setting_group,
       c.sen_unit, c.resourced_provision, c.entry_date, c.leaving_date,
       d.placement_ref IS NOT NULL AS is_dual_registered
FROM categorised c
JOIN ref_code g ON g.list_name = 'placement_category' AND g.code = c.setting_category
LEFT JOIN dual d ON d.source_system = c.source_system AND d.placement_ref = c.placement_ref
