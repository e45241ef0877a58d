"""Tables line up by the columns a terminal gives each character."""

from lookalike.clikit import table
from lookalike.text import display_width


def test_display_width():
    assert display_width("아이유") == 6
    assert display_width("Zoë Ström") == 9
    assert display_width("e\u0301lodie") == 6  # a combining accent takes no column
    assert display_width("ＡＢ") == 4


def test_table_aligns_wide_names():
    rows = [
        ("rank", "name", "distance", "photo"),
        ("1", "아이유", "0.412", "a.jpg"),
        ("2", "Zoë Ström", "0.5", "b.jpg"),
        ("3", "e\u0301lodie", "0.61", "c.jpg"),
    ]
    lines = table(rows, right={0, 2}).splitlines()
    photo = {display_width(line[: line.rindex(" ") + 1]) for line in lines}
    assert len(photo) == 1  # the last column starts in one column on every line
    assert lines[1].startswith("   1  아이유     ")
