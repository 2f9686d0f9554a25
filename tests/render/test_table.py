"""Text tables fit 120 columns: wide text cells wrap at spaces, numbers never wrap."""

from modelstack.render.table import paragraph, table


def test_a_narrow_table_is_left_as_it_is():
    out = table(["name", "count"], [["a", 1], ["bb", None]], right=[1])
    assert out.splitlines() == ["name  count", "----  -----", "a         1", "bb        -"]


def test_a_wide_table_wraps_its_widest_text_columns_and_keeps_numbers_whole():
    types = ", ".join(f"m{i}i.xlarge" for i in range(20))
    out = table(["pool", "instance types", "limits", "$/h"], [["cpu", types, "cpu 40, memory 160Gi", "123456.7890"]],
                right=[3], width=80)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) > 3
    assert lines[2].startswith("cpu ") and lines[2].endswith("123456.7890")
    # Every word survives the wrap, in order, and none is cut.
    assert " ".join(" ".join(line.split()) for line in lines[2:]).replace("cpu ", "", 1).startswith("m0i.xlarge,")
    assert all(t in out for t in types.split())


def test_a_column_is_never_narrower_than_its_heading_or_longest_word():
    word = "monitoring/modelstack-dashboards"
    out = table(["what", "where"], [["x " * 60, word]], width=40)
    assert word in out and "where" in out.splitlines()[0]


def test_a_total_row_gets_a_rule_before_it():
    lines = table(["what", "$"], [["a", "1"], ["total", "1"]], right=[1], rules_before=[1]).splitlines()
    assert lines[3].startswith("-----") and lines[4].startswith("total")


def test_a_paragraph_wraps_with_an_indent():
    text = paragraph("note on cpu: " + "word " * 40, "  ", width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines) and lines[0].startswith("  note on cpu:")
    assert all(line.startswith("    ") for line in lines[1:])
