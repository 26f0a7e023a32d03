"""The seven measures of the `dfdg` cube in the specification's order, written out once for the
tests (not taken from the product, so a test still notices a measure the product drops)."""

DFDG_MEASURES = (
    "antal_borgere",
    "antal_visitationsforloeb",
    "antal_aktiveringsforloeb",
    "hjaelpemiddeludgifter",
    "antal_dage_aktiveret",
    "antal_timer_aktiveret_pr_uge",
    "antal_samtaler",
)
