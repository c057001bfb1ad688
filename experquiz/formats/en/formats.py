# One date format in English, the same in lists, pages and messages: "2 Dec 2026", "2 Dec 2026, 15:09".
# Never the US month-first "12/02/2026", and no "a.m." whose full stop doubles the sentence's.
DATE_FORMAT = SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "j M Y, H:i"
