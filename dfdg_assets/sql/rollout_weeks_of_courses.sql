-- R5 in plain DuckDB SQL over a `courses` table (rollout_courses.sql) and a registered `weeks`
-- table (one or more months): one row per course and ISO week it is in force in.
SELECT c.forloeb_id, c.borger_key, w.uge, w.maaned, w.kvartal, w.aar,
       c.kommunekode, c.ydelsesgruppe, c.visitationskategori, c.visiterende_org_id
FROM courses c
JOIN weeks w ON c.startdato <= w.uge_soendag AND c.slutdato > w.uge_mandag  -- R5
