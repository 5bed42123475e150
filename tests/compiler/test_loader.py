from compiler.diagnostics import Position
from compiler.loader import parse_yaml


def test_every_value_has_a_position():
    doc, diags = parse_yaml("a:\n  b: [x, y]\n  c: {d: 1}\n", "f.yaml")
    assert doc is not None and not diags
    assert doc.source.at(("a", "b", 1)) == Position("f.yaml", 2, 10)
    assert doc.source.key_at(("a", "c")) == Position("f.yaml", 3, 3)
    assert doc.source.at(("a", "c", "d")) == Position("f.yaml", 3, 10)
    # Unknown paths fall back to the nearest enclosing element.
    assert doc.source.at(("a", "c", "zzz")) == Position("f.yaml", 3, 6)


def test_duplicate_keys_show_both_places_and_all_are_reported():
    text = "a: 1\nb: 2\na: 3\nm:\n  x: 1\n  x: 2\n"
    doc, diags = parse_yaml(text, "f.yaml")
    assert doc is not None
    assert [(d.code, d.position.line, d.position.col) for d in diags] == [
        ("duplicate-key", 3, 1),
        ("duplicate-key", 6, 3),
    ]
    assert diags[0].related[0][0] == Position("f.yaml", 1, 1)
    assert diags[1].related[0][0] == Position("f.yaml", 5, 3)
    assert doc.data["a"] == 1  # the first value is kept


def test_timestamps_stay_strings_and_keys_become_strings():
    doc, _ = parse_yaml("when: 2026-11-24\nat: 2026-11-24T10:00:00Z\n123: x\nyes: no\n", "f.yaml")
    assert doc is not None
    assert doc.data == {"when": "2026-11-24", "at": "2026-11-24T10:00:00Z", "123": "x", "yes": "no"}


def test_syntax_error_has_a_position():
    doc, diags = parse_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    assert doc is None
    assert diags[0].code == "yaml-syntax" and diags[0].position.line >= 2
