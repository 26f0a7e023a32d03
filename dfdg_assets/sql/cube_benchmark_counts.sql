-- The benchmark's unsuppressed counts of one month (cubes/benchmark_counts.py), the same numbers
-- as rules/benefits.benchmark_counts. The views ydelse (stg_ydelse), aktivitet
-- (fct_aktivitet_uge) and visitation (fct_visitation_uge) hold the month's partitions.
-- A citizen's weeks of the month are a bit mask (bit = ISO week number; the weeks of one month
-- have different numbers), so "in the same week" is a non-zero AND of two masks and every
-- record is reduced to one row per citizen before anything is joined.
-- breakdown: 0 total row, 1 beskaeftigelsesydelse, 2 aktiveringstype, 3 visitationskategori.
-- One row per (kommune, breakdown, value) with YR rows; kommunekode NULL is Hele landet (each
-- citizen and each activity once across the paying municipalities).
WITH
yr AS (  -- per citizen, paying municipality and benefit: the weeks with such a YR row
    SELECT borger_key, kommunekode, beskaeftigelsesydelse AS v,
           bit_or(1::BIGINT << CAST(uge[7:] AS INTEGER)) AS uger
    FROM ydelse
    GROUP BY ALL
),
weeks AS (  -- per citizen and paying municipality: the weeks with a YR row
    SELECT borger_key, kommunekode, bit_or(uger) AS uger FROM yr GROUP BY ALL
),
acts AS (  -- per activity: the weeks it is in force
    SELECT borger_key, aktivitet_id, aktiveringstype,
           bit_or(1::BIGINT << CAST(uge[7:] AS INTEGER)) AS uger
    FROM aktivitet
    GROUP BY ALL
),
courses AS (  -- per citizen and category: the weeks with a course of it in force
    SELECT borger_key, visitationskategori AS v,
           bit_or(1::BIGINT << CAST(uge[7:] AS INTEGER)) AS uger
    FROM visitation
    GROUP BY ALL
),
-- one row per (group, citizen) of the groups that need no activity, with the citizen's weeks
-- in the group: the total row, the benefits (the benefit's own paying municipality) and the
-- categories of the courses in force in a YR week
members AS (
    SELECT kommunekode, 0 AS b, '' AS v, borger_key, uger FROM weeks
    UNION ALL
    SELECT kommunekode, 1, v, borger_key, uger FROM yr
    UNION ALL
    SELECT w.kommunekode, 3, c.v, w.borger_key, w.uger & c.uger
    FROM weeks AS w
    JOIN courses AS c ON c.borger_key = w.borger_key AND (w.uger & c.uger) <> 0
),
act_weeks AS (  -- per citizen: the weeks with any activity in force
    SELECT borger_key, bit_or(uger) AS uger FROM acts GROUP BY ALL
),
type_weeks AS (  -- per citizen and activity type: the weeks with such an activity in force
    SELECT borger_key, aktiveringstype AS v, bit_or(uger) AS uger FROM acts GROUP BY ALL
),
-- Hele landet: one row per (group, citizen) across the paying municipalities
national AS (
    SELECT b, v, borger_key, bit_or(uger) AS uger FROM members GROUP BY ALL
),
national_weeks AS (
    SELECT borger_key, bit_or(uger) AS uger FROM weeks GROUP BY ALL
),
-- the citizens of a group: activated when an activity is in force in one of its weeks there
citizens AS (
    SELECT m.kommunekode, m.b, m.v,
           count(*) AS ydelsesmodtagere,
           count(*) FILTER (WHERE (m.uger & a.uger) <> 0) AS aktiverede
    FROM members AS m
    LEFT JOIN act_weeks AS a ON a.borger_key = m.borger_key
    GROUP BY ALL
    UNION ALL
    SELECT NULL, n.b, n.v, count(*), count(*) FILTER (WHERE (n.uger & a.uger) <> 0)
    FROM national AS n
    LEFT JOIN act_weeks AS a ON a.borger_key = n.borger_key
    GROUP BY ALL
    UNION ALL
    -- activity types: the citizens with an activity of the type in force in a YR week
    SELECT w.kommunekode, 2, t.v, count(*), count(*)
    FROM weeks AS w
    JOIN type_weeks AS t ON t.borger_key = w.borger_key AND (w.uger & t.uger) <> 0
    GROUP BY ALL
    UNION ALL
    SELECT NULL, 2, t.v, count(*), count(*)
    FROM national_weeks AS w
    JOIN type_weeks AS t ON t.borger_key = w.borger_key AND (w.uger & t.uger) <> 0
    GROUP BY ALL
),
-- the activities in force in a week of a group, and the activity types' own groups. An activity
-- is one citizen's (fct_aktivitet_uge holds one version of each aktivitet_id, R3) and a group
-- holds a citizen once, so every (group, activity) pair is one row: counted, not made distinct.
-- Hele landet takes the citizen's weeks across the paying municipalities (national).
activities AS (
    SELECT m.kommunekode, m.b, m.v, count(*) AS forloeb
    FROM members AS m
    JOIN acts AS a ON a.borger_key = m.borger_key AND (m.uger & a.uger) <> 0
    GROUP BY ALL
    UNION ALL
    SELECT w.kommunekode, 2, a.aktiveringstype, count(*)
    FROM weeks AS w
    JOIN acts AS a ON a.borger_key = w.borger_key AND (w.uger & a.uger) <> 0
    GROUP BY ALL
    UNION ALL
    SELECT NULL, n.b, n.v, count(*)
    FROM national AS n
    JOIN acts AS a ON a.borger_key = n.borger_key AND (n.uger & a.uger) <> 0
    GROUP BY ALL
    UNION ALL
    SELECT NULL, 2, a.aktiveringstype, count(*)
    FROM national_weeks AS w
    JOIN acts AS a ON a.borger_key = w.borger_key AND (w.uger & a.uger) <> 0
    GROUP BY ALL
)
SELECT c.kommunekode,
       c.b AS breakdown,
       c.v AS breakdown_vaerdi,
       c.ydelsesmodtagere AS antal_ydelsesmodtagere,
       c.aktiverede AS antal_aktiverede,
       coalesce(f.forloeb, 0) AS antal_aktiveringsforloeb
FROM citizens AS c
LEFT JOIN activities AS f
  ON f.kommunekode IS NOT DISTINCT FROM c.kommunekode AND f.b = c.b
 AND f.v IS NOT DISTINCT FROM c.v
