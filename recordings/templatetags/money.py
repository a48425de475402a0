"""`{{ amount|money }}`, `{{ amount|money:"precise" }}`: amounts in the account's currency (recordings.formatting)."""

from django import template

from recordings.formatting import money

register = template.Library()
register.filter("money", money)
