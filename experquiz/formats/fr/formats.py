# One date format in French, the same in lists, pages and messages: "02/12/2026", "02/12/2026 15:09".
DATE_FORMAT = SHORT_DATE_FORMAT = "d/m/Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "d/m/Y H:i"
