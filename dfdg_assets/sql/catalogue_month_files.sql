-- The catalogue's list of each monthly table's files by month (its views read them all): a query
-- over a period reads the months' files only (cubes/shared.narrow_to_months).
CREATE TABLE _maanedsfiler (tabel VARCHAR, maaned VARCHAR, fil VARCHAR)
