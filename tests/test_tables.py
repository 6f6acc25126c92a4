"""Tables for readers: headers, units, precision, the model x horizon layout, deterministic HTML."""

from __future__ import annotations

import html
import re

import polars as pl
import pytest

import volbook._cells
from volbook import tables
from volbook.errors import DataError


def _cells(page: str) -> list[list[str]]:
    """The text of every body row (th and td cells), unescaped."""
    body = page[page.index("<tbody"):page.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[html.unescape(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def _headers(page: str) -> list[str]:
    head = page[page.index("<thead"):page.index("</thead>")]
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


@pytest.fixture
def backtest() -> pl.DataFrame:
    return pl.DataFrame({
        "strategy": ["buy_and_hold", "garch_no_costs", "gjr_garch"],
        "cagr": [0.110512, 0.104, None],
        "sharpe": [0.65591, 0.73861, 0.62951],
        "p": [1.0, 0.0231, 0.0002],
        "n_days": [3528, 3528, 3528],
        "best": [True, False, None],
        "dtype_noise": ["x", "y", "z"],
    })


def test_columns_are_formatted_for_people(backtest):
    shown = tables.table(backtest, {
        "strategy": tables.model("Strategy"), "cagr": tables.percent("CAGR"),
        "sharpe": tables.number("Sharpe ratio", decimals=2), "p": tables.pvalue(),
        "n_days": tables.integer("Days"), "best": tables.flag("Best"),
    }, table_id="t").to_html()
    assert _headers(shown) == ["Strategy", "CAGR (%)", "Sharpe ratio", "p-value", "Days", "Best"]
    assert _cells(shown) == [
        ["Buy and hold", "11.1", "0.66", "1.000", "3,528", "yes"],
        ["GARCH(1,1), before costs", "10.4", "0.74", "0.023", "3,528", "no"],
        ["GJR-GARCH", "–", "0.63", "< 0.001", "3,528", "–"],
    ]
    assert "dtype_noise" not in shown and "str" not in _headers(shown) and '"' not in "".join(sum(_cells(shown), []))


def test_significant_digits_and_scale():
    frame = pl.DataFrame({"model": ["a", "b"], "mse": [17.8899e-8, 1164.6407e-8]})
    shown = tables.table(frame, {"model": tables.text("Model"), "mse": tables.number("MSE", sig=3, scale=1e8)},
                         table_id="t").to_html()
    assert [row[1] for row in _cells(shown)] == ["17.9", "1,160"]
    with pytest.raises(DataError, match="give exactly one of decimals and sig"):
        tables.number("x")
    with pytest.raises(DataError, match=r"table: frame lacks columns \['nope'\]"):
        tables.table(frame, {"nope": tables.text("Nope")})


def test_bold_cells_and_row_groups():
    frame = pl.DataFrame({"g": ["a", "a", "b"], "model": ["ewma", "garch", "ewma"], "q": [1.0, 0.5, 2.0]})
    shown = tables.table(frame, {"g": tables.text("Group"), "model": tables.model(), "q": tables.number("Q", decimals=1)},
                         groups="g", bold={"q": [1]}, table_id="t").to_html()
    bold = re.findall(r'<td[^>]*style="font-weight: bold;"[^>]*>([^<]*)</td>', shown)
    assert bold == ["0.5"]
    assert re.findall(r'class="gt_group_heading"[^>]*>([^<]*)<', shown) == ["a", "b"]


def test_long_results_are_pivoted_to_model_by_horizon():
    long = pl.DataFrame({
        "model": ["gjr_garch", "ewma"] * 3,
        "horizon": [1, 1, 5, 5, 10, 10],
        "qlike": [1.5681, 1.6610, 0.4510, 0.5393, 0.3809, 0.4744],
        "rank": [1, 2, 1, 2, 1, 2],
    })
    shown = tables.by_horizon(long, {"qlike": tables.number("QLIKE", decimals=3), "rank": tables.integer("Rank")},
                              table_id="t").to_html()
    assert _headers(shown) == ["Model", "QLIKE", "Rank"] + ["1 day", "5 days", "10 days"] * 2
    assert _cells(shown) == [
        ["GJR-GARCH", "1.568", "0.451", "0.381", "1", "1", "1"],
        ["EWMA", "1.661", "0.539", "0.474", "2", "2", "2"],
    ]
    with pytest.raises(DataError, match=r"more than one row per \(model, horizon\)"):
        tables.by_horizon(pl.concat([long, long]), {"qlike": tables.number("QLIKE", decimals=3)})


def test_html_is_deterministic_scoped_and_offline(monkeypatch, backtest):
    header = {"header": {"msg_id": "m1"}, "content": {"code": "#| label: tbl-garch-ewma-backtest\ntables.table(...)"}}
    monkeypatch.setattr(volbook._cells, "_parent_header", lambda: header)
    spec = {"strategy": tables.model("Strategy"), "sharpe": tables.number("Sharpe ratio", decimals=2)}
    first = tables.table(backtest, spec)
    page = first.to_html()
    assert page.startswith('<div id="tbl-garch-ewma-backtest-gt"')
    assert repr(first) == "<volbook table tbl-garch-ewma-backtest-gt: 3 rows>"
    header["header"]["msg_id"] = "m2"  # the same cell run again: the same bytes
    assert tables.table(backtest, spec).to_html() == page
    monkeypatch.setenv("VSCODE_PID", "1")  # great-tables' own display would add !important here
    monkeypatch.setenv("POSITRON_VERSION", "1")
    header["header"]["msg_id"] = "m3"
    assert tables.table(backtest, spec)._repr_html_() == page
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]
    assert selectors and all(s.startswith("#tbl-garch-ewma-backtest-gt") for s in selectors), selectors
    assert not re.search(r"(src|href)=\"?(https?:)?//|@import|url\(", page)
    assert 'data-quarto-disable-processing="true"' in page


def test_pivoted_results_can_be_grouped_by_a_column():
    long = pl.DataFrame({
        "period": ["calm"] * 4 + ["crisis"] * 4,
        "model": ["har_log", "ms_har"] * 4,
        "horizon": [1, 1, 5, 5] * 2,
        "qlike": [0.31, 0.30, 0.12, 0.13, 0.34, 0.33, 0.25, 0.24],
    })
    shown = tables.by_horizon(long, {"qlike": tables.number("QLIKE", decimals=2)}, groups="period",
                              table_id="t").to_html()
    assert _headers(shown) == ["Model", "QLIKE", "1 day", "5 days"]
    assert _cells(shown) == [
        ["HAR (log)", "0.31", "0.12"], ["MS-HAR (statsmodels)", "0.30", "0.13"],
        ["HAR (log)", "0.34", "0.25"], ["MS-HAR (statsmodels)", "0.33", "0.24"],
    ]
    headings = re.findall(r'<tr class="gt_group_heading_row">.*?<th[^>]*>(.*?)</th>', shown, re.S)
    assert [h.strip() for h in headings] == ["calm", "crisis"]
    with pytest.raises(DataError, match=r"more than one row per \(period, model, horizon\)"):
        tables.by_horizon(pl.concat([long, long]), {"qlike": tables.number("QLIKE", decimals=2)}, groups="period")


def test_wide_tables_are_set_smaller_to_fit_the_text_column():
    def font(n: int) -> str:
        frame = pl.DataFrame({f"c{i}": [1.0] for i in range(n)})
        page = tables.table(frame, {f"c{i}": tables.number(f"c{i}", decimals=1) for i in range(n)},
                            table_id="t").to_html()
        return re.search(r"#t \.gt_table \{[^}]*?font-size: (\d+px)", page, re.S).group(1)

    assert font(tables.WIDE_TABLE_COLUMNS - 1) == "14px"
    assert font(tables.WIDE_TABLE_COLUMNS) == "13px"
