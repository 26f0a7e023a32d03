-- R4 (visitation courses) in plain DuckDB SQL over a `visitations` table of R3-resolved
-- visitations: the reference implementation the polars rules are checked against (perf/).
WITH v AS (
    SELECT *, CAST(visitationstidspunkt AS DATE) AS startdato FROM visitations
),
kept AS (  -- R4(a): latest time per citizen and date; tie -> greater visitation_id as text
    SELECT * FROM v
    QUALIFY row_number() OVER (
        PARTITION BY borger_key, startdato
        ORDER BY visitationstidspunkt DESC, visitation_id DESC
    ) = 1
),
chained AS (  -- R4(b)(c): one chain per citizen, ends at the next kept visitation
    SELECT *,
        coalesce(lead(startdato) OVER (PARTITION BY borger_key ORDER BY startdato),
                 DATE '9999-12-31') AS slutdato
    FROM kept
)
SELECT visitation_id AS forloeb_id, borger_key, kommunekode, startdato, slutdato,
       ydelsesgruppe, visitationskategori, visiterende_org_id
FROM chained
WHERE visitationskategori IS DISTINCT FROM 'Afmeldt'  -- R4(d)
