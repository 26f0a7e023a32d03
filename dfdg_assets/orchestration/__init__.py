"""Jobs, the delivery sensor, the monthly schedule, and the bookkeeping they share."""
