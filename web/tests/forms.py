"""The forms of a rendered page, read the way a browser submits them (for the generated form tests)."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Input types a person types free text into.
TEXT_TYPES = {"text", "email", "tel", "password", "search", "url", ""}
NOT_SUBMITTED = {"submit", "button", "reset", "image", "file"}


@dataclass
class Field:
    name: str
    kind: str  # "text" (typed by a person), "hidden" or "choice"
    value: str


@dataclass
class PageForm:
    action: str
    method: str
    fields: list = field(default_factory=list)

    def data(self, **overrides) -> dict:
        """What the browser would submit as is, with `overrides` typed into some fields."""
        data = {}
        for item in self.fields:
            data.setdefault(item.name, []).append(item.value)
        for name, value in overrides.items():
            data[name] = [value]
        return data

    @property
    def text_fields(self) -> list[str]:
        return sorted({item.name for item in self.fields if item.kind == "text"})

    @property
    def hidden_fields(self) -> list[str]:
        hidden = {item.name for item in self.fields if item.kind == "hidden"}
        return sorted(hidden - {"csrfmiddlewaretoken"})


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.form = None
        self.select = None  # (name, options: [(value, selected)])
        self.option_value = None
        self.textarea = None  # (name, text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.form = PageForm(action=attrs.get("action") or "", method=(attrs.get("method") or "get").lower())
            self.forms.append(self.form)
            return
        if tag == "option":
            if self.select is not None:
                self.select[1].append([attrs.get("value"), "selected" in attrs, ""])
            return
        name = attrs.get("name")
        if self.form is None or not name or "disabled" in attrs:
            return
        if tag == "input":
            kind = (attrs.get("type") or "").lower()
            if kind in NOT_SUBMITTED:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.form.fields.append(Field(name, "choice", attrs.get("value", "on")))
            elif kind == "hidden":
                self.form.fields.append(Field(name, "hidden", attrs.get("value", "")))
            elif kind in TEXT_TYPES:
                self.form.fields.append(Field(name, "text", attrs.get("value", "")))
            else:  # number, date…: a browser only lets the expected kind of value through
                self.form.fields.append(Field(name, "choice", attrs.get("value", "")))
        elif tag == "textarea":
            self.textarea = [name, ""]
        elif tag == "select":
            self.select = (name, [], "multiple" in attrs)

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data
        elif self.select is not None and self.select[1]:
            self.select[1][-1][2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea is not None:
            if self.form is not None:
                self.form.fields.append(Field(self.textarea[0], "text", self.textarea[1]))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            name, options, multiple = self.select
            values = [value if value is not None else text.strip() for value, _selected, text in options]
            chosen = [value for value, (_v, selected, _t) in zip(values, options, strict=True) if selected]
            if not chosen and not multiple and values:
                chosen = values[:1]
            for value in chosen if self.form is not None else ():
                self.form.fields.append(Field(name, "choice", value))
            self.select = None


def page_forms(html: str) -> list[PageForm]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms
