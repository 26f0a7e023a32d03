"""Facts: visitation courses, activities and conversations rolled out to ISO weeks."""
