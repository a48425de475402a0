"""The filter form in a real Chromium: Apply names only the filters set."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from recordings.roles import AUDITORS
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("path", "field", "value"), [("/", "q", "64144"), ("/audit/", "user", "ada")])
def test_apply_leaves_empty_filters_out_of_the_url(signed_in, synced, django_user_model, path, field, value):
    user_in_role(django_user_model, "auditor", AUDITORS)
    page = signed_in("auditor")
    page.goto(path)
    page.fill(f"input[name={field}]", value)
    with page.expect_response(lambda response: "?" in response.url) as answer:
        page.get_by_role("button", name="Apply").click()
    query = parse_qsl(urlsplit(answer.value.url).query, keep_blank_values=True)  # straight there: no redirect
    assert (field, value) in query
    assert [name for name, given in query if given == ""] == []
    assert {name for name, _ in query} <= {field, "per_page"}  # the rows per page, a choice, always set
    assert answer.value.status == 200
