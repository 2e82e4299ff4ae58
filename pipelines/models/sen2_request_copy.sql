-- Every copy of a SEN2 request across returns, and the copy the facts keep. A later return
-- repeats an earlier request (as outcome H once it was decided before the collection period),
-- so the copies of a request are those of the same LA, child and received date (a request
-- without a received date is its own), and the copy kept is the latest one that is not the
-- historical repeat: a request stays in the year it happened.
WITH ranked AS (
    SELECT request_key, la_code, person_key, collection_year,
           first_value(request_key) OVER w AS kept_ref,
           row_number() OVER w AS rn
    FROM request
    WINDOW w AS (
        PARTITION BY la_code, person_key, COALESCE(CAST(received_date AS VARCHAR), request_key)
        ORDER BY CASE WHEN request_outcome = 'H' THEN 1 ELSE 0 END, collection_year DESC, request_seq
    )
)
SELECT request_key, la_code, person_key, collection_year, kept_ref, rn = 1 AS is_kept
FROM ranked
