-- The grain of a table (core/grain.py) as the comment on its view; {comment} is a quoted literal.
COMMENT ON VIEW {view} IS {comment}
