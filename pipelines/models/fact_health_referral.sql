-- Referrals to NHS community services. A referral whose NHS number matched a council record
-- carries the council's person key (`link_via` in the source), so it joins the child's
-- education journey; the others keep a key made from the NHS number alone.
SELECT h.person_key, c.la_code, h.record_id AS referral_ref, h.service_line, h.provider_code,
       h.referral_date, h.first_contact_date, h.discharge_date,
       CAST(h.first_contact_date - h.referral_date AS INT) AS days_to_first_contact,
       h.person_key_basis <> 'nhs_number' AS is_linked
FROM health_referral h
LEFT JOIN (SELECT person_key, min(la_code) AS la_code FROM dim_child GROUP BY person_key) c
    ON c.person_key = h.person_key
