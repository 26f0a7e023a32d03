-- The amount-weighted refund percentage of the YR rows with a percentage, exact in DECIMAL (so
-- the answer does not depend on the order of summation) and null where the amounts sum to 0.
SELECT {groups}CASE WHEN sum(r._beloeb) = 0 THEN NULL
       ELSE CAST(sum(r._beloeb * r._pct) AS DOUBLE) / CAST(sum(r._beloeb) AS DOUBLE)
       END AS gns_refusionsprocent
FROM (
{rows}
) AS r
WHERE r._pct IS NOT NULL
GROUP BY ALL
