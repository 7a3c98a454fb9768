from invoicing.paging import paginate


def test_first_and_last_page():
    items = list(range(1, 11))
    assert paginate(items, 1, 4) == ([1, 2, 3, 4], 3)
    assert paginate(items, 3, 4) == ([9, 10], 3)


def test_empty_list_has_one_page():
    assert paginate([], 1, 5) == ([], 1)
