from invoicing.lines import parse_lines, total

UPLOAD = """# uploaded by the shop
A-1;2;3.50

  # indented comment
B-7 ; 1 ; 10
"""


def test_parse_lines():
    assert parse_lines(UPLOAD) == [("A-1", 2, 350), ("B-7", 1, 1000)]


def test_total():
    assert total(parse_lines(UPLOAD)) == 1700
