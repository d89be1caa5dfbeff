"""The drift report page (drift_html.py) shows repository text as text, fetches nothing and runs nothing.

Differential, with test_report_text.py's generated hostile reports: the page of a report whose every repository
string is hostile parses (Python's HTML parser, as a browser tokenises) to the same elements and attributes as the
page of the same report with plain placeholders; no element or attribute can come from text, nothing names another
origin, and the one style is the one the Content-Security-Policy allows by hash. The real browser check (Chromium,
the spy server, the screenshot) is tests/integration/test_status.py.
"""

import base64
import hashlib
import re
from html.parser import HTMLParser

from hypothesis import given, settings, strategies as st

from test_report_text import HOSTILE, build, placeholders, realise, reports
from ansible_collections.trident.gitops.plugins.plugin_utils import drift_html
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible

PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "i", "code", "span", "a",
             "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "ul", "li", "svg", "defs", "marker",
             "path", "line", "g", "rect", "text"}
# Attribute values that may hold anything but a reference: a reference is only ever a fragment of the page itself.
_IDS = re.compile(r"(env|chain)-[0-9a-f]{12}")
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Page(HTMLParser):
    """Elements with their attributes (ids normalised), in order; the text, and the style."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.style, self._in_style = [], [], "", False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, [(name, _IDS.sub(r"\1-X", value or "")) for name, value in attrs]))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag):
        self.elements.append(("/" + tag, []))
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)

    def handle_comment(self, data):
        self.elements.append(("<!--", []))


@st.composite
def chained_reports(draw):
    """A generated hostile report plus the pipeline's summaries: a promotion chain among its environments, held
    reasons, revisions, failures."""
    plan = draw(reports())
    names = list(plan)
    summaries = {}
    for env in names:
        summaries[env] = {"verdict": draw(st.sampled_from(["in_sync", "drift", "error"])),
                          "promote_from": draw(st.one_of(st.none(), st.sampled_from(names), HOSTILE)),
                          "held": draw(st.one_of(st.just(""), HOSTILE)), "revision": draw(st.one_of(st.none(), HOSTILE)),
                          "target": draw(st.one_of(st.none(), HOSTILE)),
                          "failure": draw(st.one_of(st.none(), st.fixed_dictionaries({"step": HOSTILE,
                                                                                      "message": HOSTILE})))}
    return plan, summaries


def page_of(plan, summaries, swap, check_mode):
    report = build(realise(plan, swap), check_mode)
    report.merge_environments(realise(summaries, swap))
    return drift_html.render(report)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(story=chained_reports(), check_mode=st.booleans())
def test_no_repository_text_becomes_markup(story, check_mode):
    plan, summaries = story
    swap = placeholders({"plan": plan, "summaries": summaries})
    hostile = page_of(plan, summaries, str, check_mode)
    hostile.encode("utf-8")
    plain = Page(page_of(plan, summaries, swap, check_mode))
    page = Page(hostile)
    assert page.elements == plain.elements, "a repository string changed the page's elements or attributes"
    assert {tag for tag, _attrs in page.elements if not tag.startswith("/")} <= PAGE_TAGS
    for tag, attrs in page.elements:
        for name, value in attrs:
            assert not name.startswith("on") and name not in ("src", "srcset", "action", "formaction", "style")
            if name in ("href", "xlink:href"):
                assert value.startswith("#"), (tag, name, value)
            assert "://" not in value or (tag, name) == ("svg", "xmlns"), (tag, name, value)
    assert not _INVISIBLE.search("".join(page.text)), "a control character reached the page"


def test_the_page_allows_only_its_own_style_and_draws_the_chain():
    report = build({})
    report.merge_environments({"dev": {"verdict": "in_sync", "revision": "a" * 40, "steps": {"source": "ok"}},
                               "prod": {"verdict": "drift", "revision": "b" * 40, "target": "a" * 40,
                                        "promote_from": "dev", "held": "waiting for dev",
                                        "steps": {"source": "ok", "promotion": "changed"}}})
    text = drift_html.render(report)
    page = Page(text)
    digest = base64.b64encode(hashlib.sha256(page.style.encode("utf-8")).digest()).decode()
    (csp,) = [dict(attrs)["content"] for tag, attrs in page.elements
              if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; ") and f"style-src 'sha256-{digest}'" in csp
    assert "script" not in {tag for tag, _attrs in page.elements}
    lines = [dict(attrs) for tag, attrs in page.elements if tag == "line"]
    assert len(lines) == 1 and lines[0]["class"] == "promotion held" and lines[0]["stroke-dasharray"] == "6 4"
    assert [tag for tag, _attrs in page.elements].count("rect") == 2
    assert drift_html.chain_layout({"dev": {}, "staging": {"promote_from": "dev"}, "prod": {"promote_from": "staging"},
                                    "loop": {"promote_from": "loop"}}) == {
        "dev": (0, 0), "loop": (0, 1), "staging": (1, 0), "prod": (2, 0)}


def test_a_hostile_commit_subject_is_one_code_element():
    subject = "web: <img src=http://spy.invalid/p.png> <script>alert(1)</script> \x1b[31m \u202eevil"
    report = build({"e": {"source": {"tasks": [("fetch", ("changed", {
        "after": "9e8d7c6b5a4f3e2d", "commits": [{"sha": "9e8d7c6b5a4f3e2d", "subject": subject}]}))]}}})
    page = Page(drift_html.render(report))
    assert visible(subject) in page.text
    assert {"img", "script"}.isdisjoint(tag for tag, _attrs in page.elements)
