"""The synthetic delivery generator (dfdg_assets.generate): format, determinism, content."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from dfdg_assets.core.weeks import add_months, monday_of_label, week_month
from dfdg_assets.generate import GenerateSummary, generate
from dfdg_assets.generate import run as generate_run
from dfdg_assets.generate.common import reference
from dfdg_assets.generate.municipalities import allocate, select
from dfdg_assets.ingest import contract

REF = Path(contract.__file__).parents[1] / "reference"
SMALL = dict(kommuner=3, borgere=1500, fra="2019-10", til="2020-03", seed=7)
DELTA_FILES = ("visitation", "aktivitet", "samtale", "ydelse")


def _lists() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with open(REF / "vaerdilister.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["attribut"], set()).add(r["vaerdi"])
    return out


def _pairs() -> set[tuple[str, str]]:
    with open(REF / "visitationskategorier.csv", encoding="utf-8") as f:
        return {(r["ydelsesgruppe"], r["visitationskategori"]) for r in csv.DictReader(f)}


def load(root: Path, name: str) -> pl.DataFrame:
    """All months of one file, as text, with the delivery month in column `lev`."""
    frames = [
        pl.read_csv(p, separator=";", infer_schema=False).with_columns(lev=pl.lit(p.parent.name))
        for p in sorted(root.glob(f"*/{name}.csv"))
    ]
    return pl.concat(frames) if frames else pl.DataFrame()


def cpr_ok(cpr: str | None, month: str) -> bool:
    """A valid substitute number: day + 60, century from digit 7, not born after the month."""
    if cpr is None or len(cpr) != 10 or not cpr.isdigit():
        return False
    day, mon, yy, d7 = int(cpr[:2]) - 60, int(cpr[2:4]), int(cpr[4:6]), int(cpr[6])
    if d7 <= 3 or (d7 in (4, 9) and yy >= 37):
        year = 1900 + yy
    elif yy <= 36:
        year = 2000 + yy
    else:
        year = 2000 + yy if yy <= 57 else 1800 + yy
    try:
        born = dt.date(year, mon, day)
    except ValueError:
        return False
    nxt = dt.date(int(month[:4]), int(month[5:7]), 1) + dt.timedelta(days=32)
    return born < nxt.replace(day=1) and day >= 1


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out, **SMALL, fejlrate=0.004)


@pytest.fixture(scope="session")
def clean(tmp_path_factory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, **SMALL, fejlrate=0)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_byte_identical_for_same_arguments(tmp_path, sample):
    args = dict(kommuner=2, borgere=300, fra="2019-12", til="2020-02", seed=3)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b and len(a) == 8 + 9 + 9  # no ydelse.csv before 2020-01
    generate(tmp_path / "c", **{**args, "seed": 4})
    c = _tree(tmp_path / "c")
    assert c.keys() == a.keys()
    assert c["2020-01/visitation.csv"] != a["2020-01/visitation.csv"]
    assert c["2020-01/borger.csv"] != a["2020-01/borger.csv"]


def test_chunking_keeps_the_output_valid(tmp_path, monkeypatch):
    # the model is built in chunks of citizens; several chunks must merge into unique ids
    monkeypatch.setattr(generate_run, "CHUNK_CITIZENS", 97)
    generate(tmp_path, kommuner=2, borgere=400, fra="2019-12", til="2020-02", seed=5, fejlrate=0)
    for name, key in (
        ("visitation", "visitation_id"),
        ("aktivitet", "aktivitet_id"),
        ("samtale", "samtale_id"),
    ):
        df = load(tmp_path, name)
        assert df.group_by("lev", key).len()["len"].max() == 1
    assert load(tmp_path, "visitation")["cpr"].n_unique() > 380


def test_manifests_match_files(sample):
    root, summary = sample
    months = sorted(p.name for p in root.iterdir())
    assert months == [add_months("2019-10", i) for i in range(6)]
    assert summary.months == 6
    total_rows: dict[str, int] = {}
    for m in months:
        text = (root / m / contract.MANIFEST).read_text(encoding="utf-8")
        man = json.loads(text)
        assert list(man) == ["data_month", "files"] and man["data_month"] == m
        expected = [f.filename for f in contract.FILES if f.required_in(m)]
        assert list(man["files"]) == expected
        assert sorted(p.name for p in (root / m).iterdir()) == sorted(
            [*expected, contract.MANIFEST]
        )
        for fname, meta in man["files"].items():
            data = (root / m / fname).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"]
            assert b"\r" not in data and data.endswith(b"\n")
            lines = data.decode("utf-8").split("\n")
            spec = contract.FILES_BY_NAME[fname[:-4]]
            assert lines[0] == ";".join(spec.column_names)
            df = pl.read_csv(root / m / fname, separator=";", infer_schema=False)
            assert df.height == meta["rows"] == len(lines) - 2
            total_rows[spec.name] = total_rows.get(spec.name, 0) + meta["rows"]
    assert total_rows == summary.rows
    assert summary.files == sum(len(list((root / m).iterdir())) for m in months)
    assert summary.bytes == sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_ydelse_only_from_2020(tmp_path):
    generate(tmp_path, kommuner=1, borgere=200, fra="2019-11", til="2020-01", seed=2)
    assert not (tmp_path / "2019-11" / "ydelse.csv").exists()
    assert not (tmp_path / "2019-12" / "ydelse.csv").exists()
    assert load(tmp_path, "ydelse").height > 0
    man = json.loads((tmp_path / "2019-12" / contract.MANIFEST).read_text())
    assert "ydelse.csv" not in man["files"]


def test_formats(clean):
    root, _ = clean
    v = load(root, "visitation")
    assert v["visitationstidspunkt"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$").all()
    hours = v["visitationstidspunkt"].str.slice(11, 2).cast(pl.Int32)
    assert hours.min() >= 7 and hours.max() <= 16
    assert v["visitation_id"].str.contains(r"^V\d+$").all()
    a = load(root, "aktivitet")
    assert a["startdato"].str.to_date("%Y-%m-%d").is_not_null().all()
    assert (a["slutdato"].is_null() | (a["slutdato"] >= a["startdato"])).all()
    assert a["timer_pr_uge"].drop_nulls().cast(pl.Float64).is_between(0, 37).all()
    y = load(root, "ydelse")
    assert y["uge"].str.contains(r"^\d{4}-W\d\d$").all()
    amounts = y["udbetalt_beloeb"].cast(pl.Float64)
    assert (amounts > 0).mean() > 0.98 and (amounts < 0).any()  # a few negative corrections
    assert set(y["refusionsprocent"].drop_nulls().cast(pl.Float64)) <= {20, 30, 40, 50, 80, 100}
    assert y["refusionsprocent"].is_null().any()


def test_every_cpr_is_a_valid_substitute_number(clean, sample):
    for root, tolerance in ((clean[0], 0.0), (sample[0], 0.01)):
        for name in (*DELTA_FILES, "borger"):
            df = load(root, name)
            bad = sum(not cpr_ok(c, m) for c, m in zip(df["cpr"], df["lev"], strict=True))
            assert bad <= tolerance * df.height, (name, bad)
    b = load(clean[0], "borger").filter(pl.col("lev") == "2020-03")
    assert b["cpr"].n_unique() == b.height


def test_closed_value_lists_all_occur(clean):
    root, _ = clean
    lists = _lists()
    a, s = load(root, "aktivitet"), load(root, "samtale")
    v, d, o = load(root, "visitation"), load(root, "samtale_deltager"), load(root, "organisation")
    seen = {
        "aktiveringstype": set(a["aktiveringstype"]),
        "aktivitetsstatus": set(a["aktivitetsstatus"]),
        "samtalestatus": set(s["samtalestatus"]),
        "samtaletype": set(s["samtaletype"]),
        "kontaktform": set(s["kontaktform"]),
        "deltagertype": set(d["deltagertype"]),
        "ydelsesgruppe": set(v["ydelsesgruppe"]),
        "org_type": set(o["org_type"]),
        "uddannelseskodetype": set(a["uddannelseskodetype"].drop_nulls()),
        "hjaelpemiddel_form": set(a["hjaelpemiddel_form"].drop_nulls()),
        "statsligt_job": set(a["statsligt_job"].drop_nulls()),
    }
    for attr, values in seen.items():
        assert values == lists[attr], attr
    # and nothing outside the lists where they are closed
    for col in contract.CODE_LIST_COLUMNS["aktivitet"]:
        assert set(a[col].drop_nulls()) <= lists[col], col
    pairs = _pairs()
    generelle = {c for g, c in pairs if g == "Alle"}
    used = set(zip(v["ydelsesgruppe"], v["visitationskategori"], strict=True))
    assert all((g, c) in pairs or c in generelle for g, c in used)
    assert {(g, c) for g, c in pairs if g != "Alle"} <= used


def test_activity_fields_fit_the_type(clean):
    a = load(clean[0], "aktivitet")
    job = a.filter(
        pl.col("aktiveringstype").is_in(
            ["Virksomhedspraktik", "Ansættelse med løntilskud", "Jobrotation", "Nytteindsats"]
        )
    )
    assert job["jobtype"].is_not_null().all() and job["statsligt_job"].is_not_null().all()
    assert (job.filter(pl.col("jobtype") == "Stat")["statsligt_job"] == "Ja").all()
    other = a.filter(pl.col("jobtype").is_null())
    assert other["statsligt_job"].is_null().all()
    vo = a.filter(pl.col("aktiveringstype") == "Vejledning og opkvalificering")
    assert vo["uddannelseskode"].is_not_null().all() and vo["kursusnavn"].is_not_null().any()
    assert (
        a.filter(pl.col("aktiveringstype") != "Vejledning og opkvalificering")["uddannelseskode"]
        .is_null()
        .all()
    )
    udd = load(clean[0], "uddannelse").filter(pl.col("lev") == "2020-03")
    assert 300 <= udd.height <= 400
    known = set(zip(udd["uddannelseskode"], udd["uddannelseskodetype"], strict=True))
    used = set(zip(vo["uddannelseskode"], vo["uddannelseskodetype"], strict=True))
    assert 0 < len(used - known) < 0.1 * len(used)  # a few codes missing from the snapshot
    hj = a.filter(pl.col("aktiveringstype") == "Hjælpemiddel")
    assert (
        hj["hjaelpemiddel_art"].is_not_null().all()
        and hj["hjaelpemiddel_udgift"].is_not_null().all()
    )
    pa = a.filter(pl.col("aktiveringstype") == "Personlig assistance")
    assert (
        pa["stoetteperson_art"].is_not_null().all() and pa["stoetteperson_type"].is_not_null().all()
    )
    assert pa["assistance_refunderet_udgift"].is_not_null().any()
    assert (
        a.filter(pl.col("aktiveringstype") != "Personlig assistance")["stoetteperson_art"]
        .is_null()
        .all()
    )
    assert a["slutdato"].is_null().any()  # ongoing
    ends = a["slutdato"].drop_nulls().str.to_date()
    assert (ends.dt.weekday() == 1).sum() > 0.05 * len(ends)  # some end on a Monday
    # the responsible organisation is the municipality's jobcenter
    assert a.select((pl.col("ansvarlig_org_id") == "JC" + pl.col("kommunekode")).all()).item()


def test_orgs_and_references(clean):
    root, _ = clean
    o = load(root, "organisation").filter(pl.col("lev") == "2020-03")
    codes = select(SMALL["kommuner"], reference())
    for c in codes:
        assert {f"K{c}", f"JC{c}"} <= set(o["org_id"])
    assert o["org_id"].n_unique() == o.height
    referenced = set(load(root, "aktivitet")["aktiverende_org_id"].drop_nulls())
    assert referenced - set(load(root, "organisation")["org_id"])  # a few unknown providers


def test_same_day_duplicates_backdating_corrections_afmeldt(clean):
    root, _ = clean
    v = load(root, "visitation").with_columns(dag=pl.col("visitationstidspunkt").str.slice(0, 10))
    latest = v.sort("lev").unique("visitation_id", keep="last")
    same_day = latest.group_by("cpr", "dag").agg(
        n=pl.len(), t=pl.col("visitationstidspunkt").n_unique()
    )
    assert same_day.filter(pl.col("n") > 1).height > 5
    assert same_day.filter(pl.col("t") < pl.col("n")).height > 0  # exactly the same time
    # history: the first delivery reaches back to 2017
    first = v.filter(pl.col("lev") == "2019-10")
    assert first["dag"].min() < "2017-03-01"
    # backdated: registered in a later month than the one it is dated in
    later = v.filter((pl.col("lev") > "2019-10") & (pl.col("dag").str.slice(0, 7) < pl.col("lev")))
    assert later.height > 0
    # corrections: ids re-sent in a later delivery
    for name, key in (
        ("visitation", "visitation_id"),
        ("aktivitet", "aktivitet_id"),
        ("samtale", "samtale_id"),
    ):
        df = v if name == "visitation" else load(root, name)
        assert (
            df.group_by(key).agg(pl.col("lev").n_unique()).filter(pl.col("lev") > 1).height > 0
        ), name
    af = latest.filter(pl.col("visitationskategori") == "Afmeldt")
    assert af.height > 0
    # some citizens come back after an afmelding
    back = latest.join(af.select("cpr", af_dag="dag"), on="cpr").filter(
        (pl.col("dag") > pl.col("af_dag")) & (pl.col("visitationskategori") != "Afmeldt")
    )
    assert back.height > 0
    assert (latest["visitationskategori"] == "Ikke visiteret").any()


def test_activity_status_progression(clean):
    a = load(clean[0], "aktivitet")
    hist = (
        a.sort("lev")
        .group_by("aktivitet_id", maintain_order=True)
        .agg("aktivitetsstatus", "slutdato")
    )
    progressed = hist.filter(
        (pl.col("aktivitetsstatus").list.first() == "Planlagt")
        & pl.col("aktivitetsstatus").list.last().is_in(["Gennemført", "Afbrudt", "Afsluttet"])
        & pl.col("slutdato").list.first().is_null()
        & pl.col("slutdato").list.last().is_not_null()
    )
    assert progressed.height > 10


def test_conversations_and_participants(clean):
    root, _ = clean
    s, d = load(root, "samtale"), load(root, "samtale_deltager")
    assert set(d["samtale_id"]) <= set(s["samtale_id"])
    # a re-sent conversation carries its participant list in the same delivery again
    per = d.group_by("lev", "samtale_id").len()
    resent = s.group_by("samtale_id").agg(pl.col("lev").n_unique()).filter(pl.col("lev") > 1)
    with_parts = (
        per.join(resent.select("samtale_id"), on="samtale_id")
        .group_by("samtale_id")
        .agg(pl.col("lev").n_unique())
    )
    assert (with_parts["lev"] > 1).any()
    assert (
        d.group_by("lev", "samtale_id")
        .agg(pl.col("deltagertype").n_unique() == pl.len())["deltagertype"]
        .all()
    )
    assert per["len"].max() <= 3


def test_uge_belongs_to_the_delivery_month(clean):
    y = load(clean[0], "ydelse")
    y = y.with_columns(maaned=pl.col("uge").map_elements(week_month, return_dtype=pl.String))
    assert y["lev"].min() == "2020-01"
    off = y.filter(pl.col("maaned") != pl.col("lev"))
    assert 0 < off.height < 0.03 * y.height
    # the exceptions are re-sends of the previous month's weeks (~1 %), with the same keys
    assert (
        off["maaned"].map_elements(lambda m: add_months(m, 1), return_dtype=pl.String) == off["lev"]
    ).all()
    keys = set(
        zip(
            y.filter(pl.col("maaned") == pl.col("lev"))["cpr"],
            y.filter(pl.col("maaned") == pl.col("lev"))["uge"],
            strict=True,
        )
    )
    assert all(k in keys for k in zip(off["cpr"], off["uge"], strict=True))
    # several benefits in one citizen-week occur
    assert y.group_by("lev", "cpr", "uge").len()["len"].max() > 1
    # some citizen-weeks on a YR benefit have no visitation course: the citizen's latest
    # visitation before the week's Sunday is an afmelding, or there is none
    v = load(clean[0], "visitation").sort("lev").unique("visitation_id", keep="last")
    v = v.select("cpr", "visitationskategori", t=pl.col("visitationstidspunkt").str.to_datetime())
    weeks = y.unique(["cpr", "uge"]).with_columns(
        t=pl.col("uge").map_elements(
            lambda u: dt.datetime.combine(monday_of_label(u), dt.time()) + dt.timedelta(days=7),
            return_dtype=pl.Datetime("us"),
        )
    )
    last = weeks.sort("cpr", "t").join_asof(
        v.sort("cpr", "t"), on="t", by="cpr", strategy="backward", check_sortedness=False
    )
    without = last.filter(
        pl.col("visitationskategori").is_null() | (pl.col("visitationskategori") == "Afmeldt")
    )
    assert 0 < without.height < 0.2 * weeks.height


def test_fejlrate_zero_gives_no_faults(clean):
    root, summary = clean
    assert summary.faults == 0
    for name in DELTA_FILES:
        df = load(root, name)
        assert (df["kommunekode"] != "999").all()
        assert df.height == df.unique().height, name  # no exact duplicates
    for name, key in (
        ("visitation", "visitation_id"),
        ("aktivitet", "aktivitet_id"),
        ("samtale", "samtale_id"),
    ):
        assert load(root, name).group_by("lev", key).len()["len"].max() == 1
    y = load(root, "ydelse")
    assert y["refusionsprocent"].drop_nulls().cast(pl.Float64).max() <= 100


def test_faults_stay_under_one_percent(sample):
    root, summary = sample
    assert summary.faults > 0
    kommuner = {str(k) for k in reference().kommuner}
    found = {}
    for name in DELTA_FILES:
        df = load(root, name)
        for m, part in df.partition_by("lev", as_dict=True).items():
            rows = part.height
            bad = part.filter(
                ~pl.col("kommunekode").is_in(kommuner)
                | ~pl.col("cpr").map_elements(
                    lambda c, m=m[0]: cpr_ok(c, m), return_dtype=pl.Boolean
                )
            ).height
            if name != "ydelse":
                key = contract.FILES_BY_NAME[name].key[0]
                dup = part.unique().group_by(key).len().filter(pl.col("len") > 1)["len"].sum()
                bad += dup
            assert bad * 100 <= rows, (name, m)
            found[name] = found.get(name, 0) + bad
    assert sum(found.values()) > 0


def test_municipality_selection_and_sizes(clean):
    ref = reference()
    four = select(4, ref)
    assert 101 in four and len(four) == 4
    assert len({ref.region_of[c] for c in select(5, ref)}) == 5
    assert select(98, ref) == sorted(ref.kommuner)
    assert select([851, 101], ref) == [101, 851]
    with pytest.raises(ValueError):
        select([999], ref)
    with pytest.raises(ValueError):
        select(0, ref)
    assert allocate(10, [1, 1, 2]).tolist() == [3, 2, 5]
    # the residents follow the real population sizes
    b = load(clean[0], "borger").filter(pl.col("lev") == "2020-03")
    counts = dict(b.group_by("kommunekode").len().iter_rows())
    codes = select(SMALL["kommuner"], ref)
    big, small = max(codes, key=ref.indbyggere.get), min(codes, key=ref.indbyggere.get)
    ratio = counts[str(big)] / counts[str(small)]
    real = ref.indbyggere[big] / ref.indbyggere[small]
    assert 0.7 * real < ratio < 1.3 * real
    assert b.height == pytest.approx(3 * SMALL["borgere"], rel=0.1)


def test_residents_change_and_benefit_citizens_are_residents(clean):
    root, _ = clean
    b = load(root, "borger")
    snap = {m: set(p["cpr"]) for (m,), p in b.partition_by("lev", as_dict=True).items()}
    assert snap["2019-10"] != snap["2020-03"]  # moves in and out, births and deaths
    assert (
        b.group_by("cpr").agg(pl.col("kommunekode").n_unique())["kommunekode"].max() == 2
    )  # movers
    residents = set(b["cpr"])
    for name in ("visitation", "aktivitet", "samtale"):
        assert set(load(root, name)["cpr"]) <= residents
    ages = b.filter(pl.col("lev") == "2020-03")["cpr"].map_elements(
        lambda c: (
            2020
            - (
                1900 + int(c[4:6])
                if int(c[6]) <= 3 or (int(c[6]) in (4, 9) and int(c[4:6]) >= 37)
                else 2000 + int(c[4:6])
            )
        ),
        return_dtype=pl.Int64,
    )
    assert ages.min() <= 1 and ages.max() >= 90
    assert 0.05 < (ages < 16).mean() < 0.3
    assert load(root, "borger")["fuldenavn"].str.contains(" ").all()


def test_argument_checks(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, fra="2020-05", til="2020-01")
    with pytest.raises(ValueError):
        generate(tmp_path, kommuner=[101, 998])
    with pytest.raises(ValueError):
        generate(tmp_path, borgere=0)
    summary = generate(
        tmp_path, kommuner=[825], borgere=30, fra="2020-01", til="2020-01", fejlrate=0
    )
    assert summary.months == 1 and summary.rows["borger"] > 30
    assert "cpr" not in str(summary)


def test_default_period_ends_with_the_last_complete_month():
    import datetime as dt

    from dfdg_assets.generate.run import default_period

    assert default_period(today=dt.date(2026, 12, 5)) == ("2022-01", "2026-11")
    assert default_period(today=dt.date(2027, 1, 1)) == ("2022-01", "2026-12")
    assert default_period(til="2019-06") == ("2017-01", "2019-06")
    assert default_period("2020-03", "2020-05") == ("2020-03", "2020-05")
