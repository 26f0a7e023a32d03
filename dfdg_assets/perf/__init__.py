"""Reference implementations and scale measurements for `dfdg bench` (not used by the assets)."""
