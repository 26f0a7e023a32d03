"""The data months as Dagster partitions (core/partitions.py): kept sorted whatever order months
arrive in, the benchmark's months only from 2020-01, pruned months deleted."""

import dagster as dg
import pytest

from dfdg_assets.core.partitions import (
    BENCHMARK_MONTHS,
    DATA_MONTHS,
    changes,
    ensure,
    is_data_month,
    months_in_range,
)


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def keys(instance, name=DATA_MONTHS):
    return [k[:7] for k in instance.get_dynamic_partitions(name)]


def test_months_stay_sorted_when_an_earlier_month_arrives_late(instance):
    ensure(instance, ["2020-02", "2020-03"])
    ensure(instance, ["2019-11"])  # Dagster alone would append it after 2020-03
    ensure(instance, months_in_range("2019-12", "2020-01"))
    assert keys(instance) == ["2019-11", "2019-12", "2020-01", "2020-02", "2020-03"]
    assert keys(instance, BENCHMARK_MONTHS) == ["2020-01", "2020-02", "2020-03"]
    # nothing left to do: no requests
    assert changes(instance, ["2020-01"]) == []


def test_only_the_keys_after_the_new_month_are_moved(instance):
    ensure(instance, ["2020-01", "2020-02", "2020-04"])
    reqs = changes(instance, ["2020-03"])
    data = [r for r in reqs if r.partitions_def_name == DATA_MONTHS]
    assert isinstance(data[0], dg.DeleteDynamicPartitionsRequest)
    assert list(data[0].partition_keys) == ["2020-04-01"]
    assert list(data[1].partition_keys) == ["2020-03-01", "2020-04-01"]


def test_pruned_months_are_deleted_from_both(instance):
    ensure(instance, months_in_range("2019-06", "2020-06"))
    ensure(instance, remove_before="2020-02")
    assert keys(instance) == months_in_range("2020-02", "2020-06")
    assert keys(instance, BENCHMARK_MONTHS) == months_in_range("2020-02", "2020-06")


def test_a_data_month_is_from_2017_to_this_month():
    assert is_data_month("2017-01", "2026-12")
    assert not is_data_month("2016-12", "2026-12")
    assert not is_data_month("2027-01", "2026-12")
