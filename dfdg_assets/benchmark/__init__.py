"""The published cross-municipality benchmark (YdelsesAktivitetBenchmark) as Dagster assets."""
