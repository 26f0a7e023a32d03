-- The published benchmark rows (cube_benchmark). Every value is a bound parameter; NULL means
-- "no filter". {columns} is the published column list, quoted identifiers from COLUMNS.
SELECT {columns}
FROM cube_benchmark
WHERE ($kommune IS NULL OR kommune = $kommune)
  AND ($fra IS NULL OR maaned >= $fra)
  AND ($til IS NULL OR maaned <= $til)
  AND ($breakdown IS NULL OR breakdown IN ('', $breakdown))
ORDER BY maaned, kommune = $hele_landet, kommune, breakdown, breakdown_vaerdi
