"""`{{ number|phone }}`: phone numbers in international format (recordings.formatting)."""

from django import template

from recordings.formatting import phone

register = template.Library()
register.filter("phone", phone)
