-- Local authorities: every DfE LA code, with the ONS code and region configured in
-- geography.toml where known.
SELECT la_code, la_name, ons_code, region_code, region_name
FROM ref_local_authority
