"""references.bib is well formed and holds every work the book cites."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pypandoc
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "references.bib"
CROSS_REF_PREFIXES = ("fig-", "tbl-", "sec-", "eq-", "lst-")
# pandoc's citation key: starts with a letter, digit or _, may hold internal punctuation
CITATION = re.compile(r"(?<![\w\\])@(\w(?:[\w:.#$%&+?<>~/-]*\w)?)")
CODE = re.compile(r"(`+)[\s\S]*?(?<!`)\1(?!`)")
ENTRY_TYPES = {"article", "book", "incollection", "inproceedings", "techreport", "misc", "software"}


def parse_bib(text: str) -> list[dict[str, str]]:
    """A small BibTeX reader: entry type, key and top-level fields (braced, quoted or bare)."""
    entries = []
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body, fields, pos = text[match.end():i - 1], {}, 0
        field_start = re.compile(r"\s*(\w[\w-]*)\s*=\s*")
        while (f := field_start.match(body, pos)) is not None:
            pos = f.end()
            if body[pos] == "{":
                depth, start = 1, pos + 1
                while depth:
                    pos += 1
                    depth += {"{": 1, "}": -1}.get(body[pos], 0)
                value, pos = body[start:pos], pos + 1
            elif body[pos] == '"':
                end = body.index('"', pos + 1)
                value, pos = body[pos + 1:end], end + 1
            else:
                value = re.match(r"[^,\s]+", body[pos:]).group(0)
                pos += len(value)
            fields[f.group(1).lower()] = value
            pos = body.find(",", pos) + 1 if "," in body[pos:] else len(body)
        entries.append({"type": match.group(1).lower(), "key": match.group(2), **fields})
    return entries


def cited_keys() -> dict[str, set[str]]:
    """Citation keys in .qmd files, notebook markdown cells and figure/table captions."""
    texts: dict[str, list[str]] = {}
    for qmd in sorted(ROOT.glob("*.qmd")) + sorted((ROOT / "chapters").glob("*.qmd")):
        texts[qmd.name] = [qmd.read_text(encoding="utf-8")]
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        parts = [c.source for c in nb.cells if c.cell_type == "markdown"]
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            options = "\n".join(line[3:] for line in cell.source.splitlines() if line.startswith("#| "))
            parsed = yaml.safe_load(options) if options else None
            parts += [str(v) for k, v in (parsed or {}).items() if k.endswith("-cap")]
        texts[path.name] = parts
    keys = {}
    for name, parts in texts.items():
        found = {k for part in parts for k in CITATION.findall(CODE.sub("", part))}
        keys[name] = {k for k in found if not k.startswith(CROSS_REF_PREFIXES)}
    return keys


@pytest.fixture(scope="module")
def entries() -> list[dict[str, str]]:
    return parse_bib(BIB.read_text(encoding="utf-8"))


def test_entries_are_complete(entries):
    assert len(entries) >= 30
    for e in entries:
        assert e["type"] in ENTRY_TYPES, e["key"]
        assert e.get("title", "").strip(), e["key"]
        if e["key"].startswith("study_"):  # the studies: a description of what and where
            assert e.get("howpublished"), e["key"]
        year = e.get("year") or e.get("date", "")[:4]
        assert re.fullmatch(r"(19|20)\d\d", year), e["key"]  # Quarto cites a work without one as "n.d."
        assert re.fullmatch(r"\d{4}(-\d\d){0,2}", e.get("date", year)), e["key"]
        assert any(e.get(f) for f in ("author", "editor", "organization", "institution")), e["key"]
        if "doi" in e:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", e["doi"]), e["key"]
        if "pages" in e:
            first, last = (int(x) for x in e["pages"].split("--"))
            assert first <= last, e["key"]


def test_keys_are_unique(entries):
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_pandoc_reads_the_same_entries(entries):
    """An independent reader (pandoc's BibLaTeX parser) finds the same keys."""
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "-f", "biblatex", "-t", "csljson", str(BIB)],
        capture_output=True, text=True, check=True,
    )
    assert done.stderr == ""
    assert sorted(item["id"] for item in json.loads(done.stdout)) == sorted(e["key"] for e in entries)


def test_every_citation_is_in_the_bibliography(entries):
    known = {e["key"] for e in entries}
    cited = cited_keys()
    assert cited.get("index.qmd"), "the preface cites nothing: is the citation pattern broken?"
    missing = {name: sorted(keys - known) for name, keys in cited.items() if keys - known}
    assert not missing


def test_citation_pattern():
    text = "See [@engle1982; @bollerslev1986, p. 3], @corsi2009's model, @fig-x, me@example.org, `@skip`."
    found = {k for k in CITATION.findall(CODE.sub("", text)) if not k.startswith(CROSS_REF_PREFIXES)}
    assert found == {"engle1982", "bollerslev1986", "corsi2009"}
