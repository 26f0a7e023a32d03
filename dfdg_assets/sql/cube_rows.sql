-- The innermost scan of one fact for a cube query (cubes/query.py). {columns}: helper columns
-- (named with a leading _) and the attributes under their quoted names; {table} and {joins}
-- come from the bus matrix; {conditions} compare columns with bound parameters ($p0, $p1, ...).
SELECT {columns}
FROM {table} AS f{joins}
WHERE {conditions}
