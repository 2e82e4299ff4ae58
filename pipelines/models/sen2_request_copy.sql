-- Every copy of a SEN2 request across returns, and the copy the facts keep. A later return
-- repeats an earlier request (as outcome H once it was decided before the collection period),
-- so the copies of a request are those of the same LA, child and received date (a request
-- without a received date is its own), and the copy kept is the latest one that is not the
-- historical repeat (then the lowest request_seq, then the request key): a request stays in
-- the year it happened.
--
-- The kept copy is the min of one sortable string per copy (H last, newest return first,
-- then request_seq, then the key itself, which is the suffix after 15 characters), and each
-- copy is joined to it. A window would pay per request in DataFusion, where nearly every
-- request is a partition of its own: 7.7 s at national scale against well under one for
-- this (docs/benchmarks.md).
WITH copies AS (
    SELECT request_key, la_code, person_key, collection_year, request_outcome, request_seq,
           COALESCE(CAST(received_date AS VARCHAR), request_key) AS copy_of
    FROM request
),
kept AS (
    SELECT la_code, person_key, copy_of,
           substr(min(CASE WHEN request_outcome = 'H' THEN '1' ELSE '0' END
                      || lpad(CAST(9999 - collection_year AS VARCHAR), 4, '0')
                      || lpad(CAST(request_seq AS VARCHAR), 10, '0') || request_key), 16) AS kept_ref
    FROM copies
    GROUP BY la_code, person_key, copy_of
)
SELECT c.request_key, c.la_code, c.person_key, c.collection_year, k.kept_ref,
       c.request_key = k.kept_ref AS is_kept
FROM copies c
JOIN kept k ON k.la_code = c.la_code AND k.person_key = c.person_key AND k.copy_of = c.copy_of
