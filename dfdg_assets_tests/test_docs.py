"""The contract in the repo: every "SPEC section N" and rule number R<n> cited in the code resolves
to a heading of docs/spec.md, and every asset the README lists is explained in docs/glossary.md.

Plain text scanning (no imports of the product), so it runs in milliseconds.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "dfdg_assets"
SPEC = ROOT / "docs" / "spec.md"
GLOSSARY = ROOT / "docs" / "glossary.md"
README = ROOT / "README.md"

# "SPEC section 4", "section 7", "(section 2)"; the source document's own numbering
# ("the seed's section 7.1") is not this specification's and is left out.
SECTION_REF = re.compile(r"(?<!seed's )\b[Ss]ection (\d+)(?:\.\d+)*")
# "R3", "R4(a)", "R5-R7", "R3–R5"
RULE_REF = re.compile(r"\bR(\d{1,2})(?:\s*[-–]\s*R?(\d{1,2}))?\b")
SECTION_HEADING = re.compile(r"^## (\d+)\. \S", re.MULTILINE)
RULE_HEADING = re.compile(r"^### R(\d+) \S", re.MULTILINE)


def code_references() -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """{section number: [file:line, ...]} and {rule number: [file:line, ...]} over dfdg_assets/**/*.py."""
    sections: dict[int, list[str]] = {}
    rules: dict[int, list[str]] = {}
    for path in sorted(CODE.rglob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path.relative_to(ROOT)}:{lineno}"
            for m in SECTION_REF.finditer(line):
                sections.setdefault(int(m.group(1)), []).append(where)
            for m in RULE_REF.finditer(line):
                first = int(m.group(1))
                last = int(m.group(2)) if m.group(2) else first
                for n in range(first, max(first, last) + 1):
                    rules.setdefault(n, []).append(where)
    return sections, rules


def spec_headings() -> tuple[list[int], list[int]]:
    text = SPEC.read_text(encoding="utf-8")
    return (
        [int(n) for n in SECTION_HEADING.findall(text)],
        [int(n) for n in RULE_HEADING.findall(text)],
    )


def test_spec_has_sections_1_to_8_and_rules_r1_to_r12_in_order():
    sections, rules = spec_headings()
    assert sections == list(range(1, 9))
    assert rules == list(range(1, 13))


def test_every_section_and_rule_cited_in_the_code_resolves_to_a_spec_heading():
    cited_sections, cited_rules = code_references()
    # the scan finds what is there: the code cites the contract well over a hundred times
    assert sum(map(len, cited_sections.values())) + sum(map(len, cited_rules.values())) > 100
    assert {2, 3, 4, 5, 6, 7} <= set(cited_sections)
    assert set(range(1, 13)) <= set(cited_rules)

    sections, rules = spec_headings()
    unresolved = [
        f"section {n} at {where}"
        for n, places in sorted(cited_sections.items())
        if n not in sections
        for where in places
    ] + [
        f"R{n} at {where}"
        for n, places in sorted(cited_rules.items())
        if n not in rules
        for where in places
    ]
    assert unresolved == []


def test_the_reference_scan_understands_ranges_and_skips_the_source_numbering():
    line = "Steps (SPEC R3-R5, section 4); roll-outs (R5–R7), R4(a); the seed's section 7.1"
    assert [int(m.group(1)) for m in SECTION_REF.finditer(line)] == [4]
    found = []
    for m in RULE_REF.finditer(line):
        first = int(m.group(1))
        found += range(first, int(m.group(2) or first) + 1)
    assert found == [3, 4, 5, 5, 6, 7, 4]


def readme_asset_names() -> list[str]:
    """The backquoted names in the README's "Asset groups" section (assets, checks, jobs, ...)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Asset groups", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`([a-z][a-z0-9_]*)`", section)


def test_every_asset_the_readme_lists_is_in_the_glossary():
    names = readme_asset_names()
    assert {
        "raw_afviste_raekker",
        "beskaer_opbevaring",
        "cube_benchmark",
        "indlaes_levering",
    } <= set(names)
    glossary = GLOSSARY.read_text(encoding="utf-8")
    assert [n for n in names if f"`{n}`" not in glossary] == []


def test_readme_links_spec_and_glossary():
    docs = README.read_text(encoding="utf-8").split("\n## Docs", 1)[1]
    assert "docs/spec.md" in docs and "docs/glossary.md" in docs
    assert (
        "docs/spec.md"
        in (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    )


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_docs_resolve():
    docs = ROOT / "docs"
    anchors = {
        p.name: {_anchor(h) for h in re.findall(r"^#+ (.+)$", p.read_text(encoding="utf-8"), re.M)}
        for p in docs.glob("*.md")
    }
    assert "r4-visitation-courses-visitationsforløb" in anchors["spec.md"]
    broken = []
    for name in ("spec.md", "glossary.md", "decisions.md"):
        for target, frag in re.findall(
            r"\]\(([\w.]*)(?:#([^)]+))?\)", (docs / name).read_text(encoding="utf-8")
        ):
            page = target or name
            if page not in anchors or (frag and frag not in anchors[page]):
                broken.append(f"{name}: {target}#{frag}")
    assert broken == []
