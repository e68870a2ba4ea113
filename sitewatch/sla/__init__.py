"""The SLA clock: service calendars (24x7 or working hours with public holidays) and deadlines.

Pure arithmetic on timestamps: no I/O, no wall clock. A deadline is ``start`` plus a target
counted only in the calendar's service time and outside the pauses (waiting for the client).
"""

from sitewatch.sla.calendar import ServiceCalendar, WorkingHours

__all__ = ["ServiceCalendar", "WorkingHours"]
