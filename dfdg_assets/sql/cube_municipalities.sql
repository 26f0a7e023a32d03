-- The municipality codes a municipality or region attribute value names; {attribute} is a
-- quoted attribute of dim_kommune from the bus matrix, $value is bound.
SELECT kommunekode FROM dim_kommune WHERE {attribute} = $value
