-- The courses table of the SQL reference roll-out; {courses} is rollout_courses.sql.
CREATE OR REPLACE TABLE courses AS
{courses}
