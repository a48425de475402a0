"""`{% load recording_format %}`: how every page shows times, durations, badges and links, as
recordings.formatting shows them (the functions live there; tables and other code call them)."""

from django import template

from recordings import formatting

register = template.Library()

register.filter("clock", formatting.clock)
register.filter("duration", formatting.duration)
register.filter("hours_minutes", formatting.hours_minutes)
register.filter("short_id", formatting.short_id)
register.filter("calendar_day", formatting.calendar_day)
register.filter("calendar_month", formatting.calendar_month)
register.filter("zone_name", formatting.zone_name)
register.filter("epoch_ms", formatting.epoch_ms)
register.filter("byte_size", formatting.byte_size)
register.filter("count_up_to", formatting.count_up_to)

register.simple_tag(formatting.local_time)
register.simple_tag(formatting.badge)
register.simple_tag(formatting.action_badge)
register.simple_tag(formatting.id_url)
register.simple_tag(formatting.id_link)
