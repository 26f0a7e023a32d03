-- dfdg bench: the typical cube query in plain DuckDB SQL, against which query_dfdg is timed;
-- $kommune, $fra and $til are bound.
SELECT maaned, visitationskategori,
       count(DISTINCT borger_key) AS antal_borgere,
       count(DISTINCT forloeb_id) AS antal_visitationsforloeb
FROM fct_visitation_uge
WHERE kommunekode = $kommune AND maaned BETWEEN $fra AND $til
GROUP BY ALL ORDER BY maaned, visitationskategori NULLS LAST
