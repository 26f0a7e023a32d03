"""Pure business rules (SPEC section 3): visitation courses (R4) and the week roll-outs (R5-R7).

Polars LazyFrame in, LazyFrame out; no Dagster, no I/O. The assets call these functions.
"""

from dfdg_assets.rules.courses import COURSE_COLUMNS, build_courses
from dfdg_assets.rules.rollout import (
    COURSE_WEEK_COLUMNS,
    activity_weeks,
    conversation_weeks,
    course_weeks,
)

__all__ = [
    "COURSE_COLUMNS",
    "COURSE_WEEK_COLUMNS",
    "activity_weeks",
    "build_courses",
    "conversation_weeks",
    "course_weeks",
]
