-- Primary needs (SEN2 SENtype), with the column of the DfE 'EHC plans by primary need' data
-- set each is counted in, and a row for plans whose need is not recorded.
SELECT code AS sen_need, label AS sen_need_label, 'number_' || lower(code) AS dfe_column
FROM ref_code
WHERE list_name = 'sen_type'
UNION ALL
SELECT 'unknown', 'Primary need not recorded', 'number_need_unknown'
