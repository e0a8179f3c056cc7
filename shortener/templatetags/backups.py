"""`{% last_backup as backup %}`: the daily backup's last result, for staff's admin page."""

from django import template
from django.conf import settings

from shortener.portability import schedule

register = template.Library()


@register.simple_tag
def last_backup() -> dict:
    return {"folder": settings.BACKUP_DIR, "last": schedule.last_result()}
