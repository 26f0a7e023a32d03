-- The benchmark's unsuppressed counts of one month (cubes/benchmark_counts.py), the same numbers
-- as rules/benefits.benchmark_counts. The views ydelse (stg_ydelse), aktivitet
-- (fct_aktivitet_uge) and visitation (fct_visitation_uge) hold the month's partitions; a YR
-- citizen-week is joined to the activities and courses of the same (citizen, week).
-- breakdown: 0 total row, 1 beskaeftigelsesydelse, 2 aktiveringstype, 3 visitationskategori.
-- One row per (kommune, breakdown, value) with YR rows; kommune NULL is Hele landet (each citizen
-- and each activity once across the paying municipalities).
WITH
yr AS (SELECT DISTINCT borger_key, uge, kommunekode, beskaeftigelsesydelse AS v FROM ydelse),
weeks AS (SELECT DISTINCT borger_key, uge, kommunekode FROM yr),
acts AS (SELECT borger_key, uge, aktivitet_id, aktiveringstype FROM aktivitet),
courses AS (SELECT DISTINCT borger_key, uge, visitationskategori AS v FROM visitation),
-- the groups a YR citizen-week is in without looking at activities: the total row, its
-- benefits (the benefit's own paying municipality), the categories of its courses
members AS (
    SELECT kommunekode, 0 AS b, '' AS v, borger_key, uge FROM weeks
    UNION ALL
    SELECT kommunekode, 1, v, borger_key, uge FROM yr
    UNION ALL
    SELECT w.kommunekode, 3, c.v, w.borger_key, w.uge
    FROM weeks AS w
    JOIN courses AS c ON c.borger_key = w.borger_key AND c.uge = w.uge
),
-- the activities in force in those citizen-weeks, and the activity types' own groups
active AS (
    SELECT m.kommunekode, m.b, m.v, m.borger_key, a.aktivitet_id
    FROM members AS m
    JOIN acts AS a ON a.borger_key = m.borger_key AND a.uge = m.uge
    UNION ALL
    SELECT w.kommunekode, 2, a.aktiveringstype, w.borger_key, a.aktivitet_id
    FROM weeks AS w
    JOIN acts AS a ON a.borger_key = w.borger_key AND a.uge = w.uge
),
recipients AS (SELECT DISTINCT kommunekode, b, v, borger_key FROM members),
activated AS (SELECT DISTINCT kommunekode, b, v, borger_key FROM active),
activities AS (SELECT DISTINCT kommunekode, b, v, aktivitet_id FROM active),
counts AS (
    SELECT kommunekode, b, v, count(*) AS n, 0 AS kind FROM recipients GROUP BY ALL
    UNION ALL
    SELECT NULL, b, v, count(DISTINCT borger_key), 0 FROM recipients GROUP BY ALL
    UNION ALL
    SELECT kommunekode, b, v, count(*), 1 FROM activated GROUP BY ALL
    UNION ALL
    SELECT NULL, b, v, count(DISTINCT borger_key), 1 FROM activated GROUP BY ALL
    UNION ALL
    SELECT kommunekode, b, v, count(*), 2 FROM activities GROUP BY ALL
    UNION ALL
    SELECT NULL, b, v, count(DISTINCT aktivitet_id), 2 FROM activities GROUP BY ALL
)
SELECT kommunekode,
       b AS breakdown,
       v AS breakdown_vaerdi,
       -- on aktiveringstype rows the recipients are the activated citizens
       CASE WHEN b = 2 THEN coalesce(sum(n) FILTER (WHERE kind = 1), 0)
            ELSE coalesce(sum(n) FILTER (WHERE kind = 0), 0) END AS antal_ydelsesmodtagere,
       coalesce(sum(n) FILTER (WHERE kind = 1), 0) AS antal_aktiverede,
       coalesce(sum(n) FILTER (WHERE kind = 2), 0) AS antal_aktiveringsforloeb
FROM counts
GROUP BY kommunekode, b, v
