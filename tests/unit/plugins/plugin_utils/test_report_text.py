"""Repository text in the reports is shown as text: generated hostile values in every field a repository (or what it
deploys) chooses, rendered by the real renderers and read back by the parsers of the forges that render the
merge-request comment: cmark-gfm (GitHub's), comrak (GitLab's, through gitlab-glfm-markdown) and markdown-it with
GitHub's extensions. The oracle is differential: the same report with every hostile value replaced by a plain
placeholder (same order, same equalities) must parse to the same document once code contents are blanked, so a
hostile value can only ever change what a code element shows; and what it shows is the value, made visible."""

import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import cmarkgfm
import comrak
from cmarkgfm.cmark import Options
from hypothesis import example, given, settings, strategies as st
from markdown_it import MarkdownIt

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import STEPS
from ansible_collections.trident.gitops.plugins.plugin_utils import drift_markdown
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import DriftReport
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import (
    html_code, markdown_code, visible, xml_text)

SPY = "http://spy.invalid"
# What GitLab and GitHub make live in a comment, and what breaks a table, a list, an HTML block or a file.
FRAGMENTS = (
    f"![pixel]({SPY}/p.png)", f"[approve here]({SPY}/approve)", f"<{SPY}/auto>", f"{SPY}/bare", "www.spy.invalid",
    "spy@mail.invalid", "[ref]: http://spy.invalid/ref", "[ref]", "[^1]", "[[_TOC_]]", "@all", "@group/team",
    "#1", "!1", "~bug", "%v1", "$1", "&1", "deadbeef", ":smile:", "$`x`$", "{+ a +}", "[- b -]",
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<details>", "</details>", "<summary>",
    "</summary>", "<b>", "<code>", "</code>", "<!--", "-->", "<![CDATA[", "&lt;", "&#60;", "&amp;", "&#x40;all",
    "&#0;", "|", "\\|", "\\", "\\\\", "\n", "\r", "\r\n", "\n\n", "\x00", "\x1b[31m", "\x0b", "\x0c", "\x7f",
    "\x85", "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\ufffe", "\uffff", "\ud800",
    "\U000e0041", "# ", "#### ", "- ", "1. ", "> ", ">>>", "```", "~~~", "    ", " ", "*", "_", "**", "~~",
    "/approve", "/merge", "::include{file=/etc/passwd}", "---", "===", "<", ">", "\"", "'", "\t",
)
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4), st.integers(1, 9).map("`".__mul__)),
                max_size=7).map("".join)


class H(str):
    """A value the repository chose (the placeholder run swaps each for a plain one)."""


# A Secret's value path is hidden by the report: a placeholder keeps that prefix (and the path its secrecy).
_SECRET_PREFIX = re.compile(r"^(data|stringData|binaryData)(?=$|[.\[])")
_CONTENT_KEY = re.compile(r"^(data|content|string_?data|binary_?data)$", re.I)
HOSTILE = TEXT.filter(lambda text: not _SECRET_PREFIX.match(text)).map(H)
KEY = HOSTILE.filter(lambda text: not _CONTENT_KEY.match(text))
# Words the report writes as words when a field holds exactly one of them (docs/drift-report.md): kube_diff's
# actions and health statuses, Terraform's actions and reasons. A placeholder run keeps them, and "Secret".
KUBE_ACTIONS = ("create", "update", "delete", "none")
TERRAFORM_ACTIONS = ("create", "read", "update", "delete", "no-op")
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
REASONS = ("replace_because_tainted", "replace_because_cannot_update", "replace_by_request", "replace_by_triggers",
           "delete_because_no_resource_config", "delete_because_no_module", "delete_because_wrong_repetition",
           "delete_because_count_index", "delete_because_each_key", "delete_because_no_move_target")
VOCABULARY = {*KUBE_ACTIONS, *TERRAFORM_ACTIONS, "replace", *HEALTH_STATUSES, *REASONS, *STEPS, "Secret"}


def word(*choices):
    return st.one_of(st.sampled_from(choices), HOSTILE)


PATH = st.one_of(HOSTILE, st.tuples(st.sampled_from(["data", "stringData", "binaryData"]), TEXT).map(
    lambda pair: H(f"{pair[0]}.{pair[1]}")))
VALUE = st.one_of(st.none(), st.integers(), HOSTILE, st.lists(HOSTILE, max_size=2),
                  st.dictionaries(KEY, HOSTILE, max_size=2))
HEALTH = st.fixed_dictionaries({"status": word(*HEALTH_STATUSES)}, optional={"reason": HOSTILE})
KUBE_ITEM = st.fixed_dictionaries(
    {"kind": word("Deployment", "Secret"), "name": HOSTILE, "action": word(*KUBE_ACTIONS)},
    optional={"namespace": st.one_of(st.none(), HOSTILE), "fields": st.lists(PATH, max_size=2), "health": HEALTH,
              "changes": st.lists(st.fixed_dictionaries({"path": PATH, "before": VALUE, "after": VALUE}), max_size=2)})
OTHER_ITEM = st.one_of(HOSTILE, st.dictionaries(KEY.filter(lambda key: key not in ("address", "kind")), HOSTILE,
                                                min_size=1, max_size=2))
COMMIT = st.fixed_dictionaries({"sha": HOSTILE, "subject": HOSTILE})


@st.composite
def terraform(draw):
    """resource_changes and resource_drift over one pool of addresses, so a drift entry can name a change."""
    addresses = draw(st.lists(HOSTILE, min_size=1, max_size=3))
    changes = draw(st.lists(st.fixed_dictionaries(
        {"address": st.sampled_from(addresses), "actions": st.lists(word(*TERRAFORM_ACTIONS), max_size=2)},
        optional={"action_reason": word(*REASONS),
                  "replace_paths": st.lists(st.lists(st.one_of(HOSTILE, st.integers(0, 3)), min_size=1, max_size=2),
                                            max_size=2)}), max_size=3))
    outside = draw(st.lists(st.fixed_dictionaries(
        {"address": st.sampled_from(addresses), "actions": st.lists(word("delete", "update"), max_size=1)}), max_size=2))
    return changes, outside


@st.composite
def task_result(draw):
    """One task result: failed with a message, or changed with what git_source, kube_diff or terraform_apply
    return to account for drift."""
    if draw(st.booleans()):
        return "failed", {"msg": draw(HOSTILE)}
    result = {}
    kind = draw(st.sampled_from(["source", "kubernetes", "terraform"]))
    if kind == "source":
        result.update(before=draw(HOSTILE), after=draw(HOSTILE), commits=draw(st.lists(COMMIT, max_size=2)),
                      changed_files=draw(st.lists(HOSTILE, max_size=2)))
    elif kind == "kubernetes":
        result["drift"] = draw(st.lists(st.one_of(KUBE_ITEM, OTHER_ITEM), min_size=1, max_size=3))
        result["health"] = draw(HEALTH)
    else:
        result["resource_changes"], result["resource_drift"] = draw(terraform())
    return "changed", result


STATS = st.fixed_dictionaries({"changed": st.booleans()}, optional={
    "items": st.lists(st.one_of(KUBE_ITEM, OTHER_ITEM), max_size=2), "health": HEALTH,
    "unhealthy": st.lists(KUBE_ITEM, max_size=2), "revision": HOSTILE, "before": HOSTILE,
    "commits": st.lists(COMMIT, max_size=2), "changed_files": st.lists(HOSTILE, max_size=2),
    "outside_terraform": terraform().map(lambda pair: pair[1])})


@st.composite
def reports(draw):
    """``{env: {step: {"tasks": [(task name, status, result)], "stats": {...}?}}}`` with hostile names and values."""
    names = draw(st.lists(HOSTILE, min_size=1, max_size=3, unique=True))
    extra = draw(HOSTILE.filter(lambda name: name not in STEPS))
    plan = {}
    for env in names:
        steps = draw(st.lists(st.sampled_from([*STEPS, extra]), min_size=1, max_size=3, unique=True))
        plan[env] = {step: {"tasks": draw(st.lists(st.tuples(HOSTILE, task_result()), max_size=2)),
                            **({"stats": draw(STATS)} if draw(st.booleans()) else {})} for step in steps}
    return plan


def realise(value, swap):
    """``value`` with each hostile string passed through ``swap`` (dictionary keys too)."""
    if isinstance(value, H):
        return swap(value)
    if isinstance(value, dict):
        return {realise(key, swap): realise(item, swap) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(realise(item, swap) for item in value)
    return value


def hostile_strings(value):
    if isinstance(value, H):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from hostile_strings(key)
            yield from hostile_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from hostile_strings(item)


def placeholders(plan):
    """A plain stand-in per hostile value: same sort order, same equalities, same emptiness and vocabulary words,
    a Secret's value path still one."""
    table = {}
    for rank, value in enumerate(sorted(set(hostile_strings(plan)))):
        prefix = _SECRET_PREFIX.match(value)
        table[value] = str(value) if value in VOCABULARY or not value else (
            f"{prefix.group(0)}.p{rank:04d}" if prefix else f"p{rank:04d}")
    return table.__getitem__


def build(plan, check_mode=True):
    report = DriftReport(check_mode=check_mode)
    for env, steps in plan.items():
        for step, data in steps.items():
            for task, (status, result) in data["tasks"]:
                report.record(env, step, task, "trident.gitops.some_module", status, result)
            if "stats" in data:
                report.merge_stats({env: {step: data["stats"]}})
    return report


# -- the parsers the comment meets ---------------------------------------------------------------------------------
MARKDOWN_IT = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "strikethrough", "linkify"])


def github(markdown):
    """GitHub's parser with its extensions, raw HTML kept (GitHub sanitises it later: the tags must not be there)."""
    return cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough", "tasklist"])


def gitlab(markdown):
    """GitLab's parser (comrak) with the extensions GitLab Flavored Markdown turns on, raw HTML kept."""
    extensions = comrak.ExtensionOptions()
    for name in ("table", "autolink", "strikethrough", "tasklist", "footnotes", "math_dollars", "math_code",
                 "multiline_block_quotes", "shortcodes", "description_lists"):
        setattr(extensions, name, True)
    render = comrak.RenderOptions()
    render.unsafe_ = True
    return comrak.render_markdown(markdown, extension_options=extensions, render_options=render)


FORGES = {"github": github, "gitlab": gitlab, "markdown-it": MARKDOWN_IT.render}
# The report's own elements; a link, an image, a script or any attribute can only come from text.
ALLOWED_TAGS = {"h3", "h4", "p", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
                "b", "code", "ul", "li"}
# What GitLab or GitHub would make live in text outside code: mentions, references, links, emoji, quick actions.
LIVE = re.compile(r"[@#!~%$&]\w|://|www\.|:\w+:|[\[\]<>]")


class Document(HTMLParser):
    """The elements, attributes, text outside code, code texts and table row widths of rendered HTML."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.outside, self.codes, self.rows = set(), [], [], [], []
        self._code = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [(tag, attrs)] if attrs else []
        if tag == "code":
            self._code = []
        elif tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += 1

    def handle_endtag(self, tag):
        if tag == "code":
            self.codes.append("".join(self._code))
            self._code = None

    def handle_data(self, data):
        (self._code if self._code is not None else self.outside).append(data)

    def handle_comment(self, data):
        self.tags.add("<!--")


_CODE_CONTENT = re.compile(r"(<code[^>]*>).*?(</code>)", re.S)


def assert_only_text(hostile, plain):
    """Whatever the hostile values are, the comment is the placeholder run's with other code contents."""
    hostile_lines, plain_lines = hostile.split("\n"), plain.split("\n")
    assert len(hostile_lines) == len(plain_lines), "a value ended a line"
    for mine, theirs in zip(hostile_lines, plain_lines):
        assert re.split(r"`|<code>", mine)[0] == re.split(r"`|<code>", theirs)[0], "a value starts a line"
    for name, render in FORGES.items():
        document, reference = render(hostile), render(plain)
        assert _CODE_CONTENT.sub(r"\1\2", document) == _CODE_CONTENT.sub(r"\1\2", reference), name
        parsed = Document(document)
        assert parsed.tags <= ALLOWED_TAGS and not parsed.attrs, (name, parsed.tags, parsed.attrs)
        assert not LIVE.search("".join(parsed.outside)), name
        assert len(set(parsed.rows)) == 1, f"{name}: a table row with another width: {parsed.rows}"
    assert_markdown_it_tokens(MARKDOWN_IT.parse(hostile), MARKDOWN_IT.parse(plain))


_HTML_BLOCK = re.compile(r"(<details><summary><b><code>[^<]*</code></b> — ([^<]|<code>[^<]*</code>)*</summary>"
                         r"|</details>)\n")


def assert_markdown_it_tokens(hostile, plain):
    """markdown-it's token stream: the placeholder run's, code contents aside; no link, image or inline HTML; HTML
    blocks only the report's ``<details>`` and ``<summary>`` lines."""
    def shape(tokens):
        for token in tokens:
            assert token.type not in ("link_open", "image", "html_inline", "fence", "code_block"), token
            if token.type == "html_block":
                assert _HTML_BLOCK.fullmatch(token.content), token.content
            yield (token.type, token.tag, token.nesting, token.map, sorted((token.attrs or {}).items()),
                   None if token.type in ("code_inline", "inline") else
                   _CODE_CONTENT.sub(r"\1\2", token.content),
                   None if token.type == "code_inline" else token.markup,
                   list(shape(token.children or [])))
    assert list(shape(hostile)) == list(shape(plain))


# -- the report ----------------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None, derandomize=True)
@given(plan=reports(), check_mode=st.booleans())
@example(plan={H("production"): {"source": {"tasks": [(H("fetch"), ("changed", {
    "before": H("1f0c2a9b8e7d6c5b"), "after": H("9e8d7c6b5a4f3e2d"),
    "commits": [{"sha": H("9e8d7c6b5a4f3e2d"), "subject": H(
        f"web: ![pixel]({SPY}/p.png) [approve here]({SPY}/approve) @all")}]}))]}}}, check_mode=True)
def test_no_repository_text_is_live_in_a_report(plan, check_mode):
    """The Markdown comment shows repository text only in code; the JUnit file is valid XML whatever it says."""
    report = build(realise(plan, str), check_mode)
    hostile = drift_markdown.render(report)
    hostile.encode("utf-8")  # what the callback writes: no lone surrogate left
    assert_only_text(hostile, drift_markdown.render(build(realise(plan, placeholders(plan)), check_mode)))
    assert_valid_junit(report)


def test_a_commit_subject_is_shown_verbatim_and_nothing_of_it_is_live():
    """The attack as reported: an image, a link and @all in a commit subject."""
    subject = f"web: ![pixel]({SPY}/p.png) [approve here]({SPY}/approve) @all <b>#1</b> \u202eevil"
    report = build({"e": {"source": {"tasks": [("fetch", ("changed", {
        "after": "9e8d7c6b5a4f3e2d", "commits": [{"sha": "9e8d7c6b5a4f3e2d", "subject": subject}]}))]}}})
    markdown = drift_markdown.render(report)
    for name, render in FORGES.items():
        parsed = Document(render(markdown))
        assert {"a", "img"}.isdisjoint(parsed.tags), name
        assert visible(subject) in parsed.codes, name
        assert "@all" not in "".join(parsed.outside) and SPY not in "".join(parsed.outside), name
    assert visible(subject).endswith("\\u202eevil")


def assert_valid_junit(report):
    junit = report.to_junit()
    assert not re.search("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", junit), "not an XML 1.0 Char"
    root = ET.fromstring(junit.encode("utf-8"))  # expat: a well-formed XML 1.0 document or an error
    assert [suite.get("name") for suite in root.iter("testsuite")] == [visible(env) for env in sorted(report.environments)]
    texts = "\n".join(element.text or "" for element in root.iter() if element.tag in ("failure", "error"))
    for steps in report.environments.values():
        for step in steps.values():
            for task in step.tasks:
                assert xml_text(task.get("msg", "")) in texts


# -- the pieces ----------------------------------------------------------------------------------------------------
ANY_TEXT = st.one_of(TEXT, st.text())
PLAIN = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))).filter(
    lambda text: not re.search("[\ufdd0-\ufdef\ufffe\uffff]", text))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=ANY_TEXT)
def test_visible_is_one_line_of_characters_a_reader_sees(text):
    shown = visible(text)
    assert "\n" not in shown and "\r" not in shown
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064"
                         "\u2066-\u206f\ufeff\ufffe\uffff\ud800-\udfff\U000e0001\U000e0020-\U000e007f]", shown)
    assert visible(shown) == shown
    assert visible(text, lines=True).split("\n") == [visible(line) for line in re.split(r"\r\n|[\r\n]", text)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=PLAIN)
def test_visible_keeps_text_a_reader_sees(text):
    assert visible(text) == text
    assert visible("a\u200dz\u200cb") == "a\u200dz\u200cb", "joiners of scripts and emoji stay"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=ANY_TEXT)
def test_a_code_span_shows_the_text_whatever_it_holds(text):
    for name, render in FORGES.items():
        parsed = Document(render(f"x {markdown_code(text)} y\n"))
        assert parsed.tags == {"p", "code"} and not parsed.attrs, name
        assert parsed.codes == [visible(text) or " "], name
        assert "".join(parsed.outside) == "x  y\n", name


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=ANY_TEXT)
def test_a_code_span_in_a_table_cell_keeps_the_row(text):
    table = f"| a | b | c |\n|---|---|---|\n| x | {markdown_code(text, table=True)} | y |\n"
    for name, render in FORGES.items():
        parsed = Document(render(table))
        assert parsed.rows == [3, 3], name
        assert len(parsed.codes) == 1, name
        if name == "gitlab":  # one more backslash before a pipe after an odd number of them (the docstring)
            assert parsed.codes[0].replace("\\", "") == (visible(text) or " ").replace("\\", ""), name
        else:
            assert parsed.codes == [visible(text) or " "], name


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=ANY_TEXT)
def test_html_code_is_one_code_element_of_the_text(text):
    parsed = Document(f"<summary>{html_code(text)}</summary>")
    assert parsed.tags == {"summary", "code"} and parsed.codes == [visible(text)] and not parsed.outside
    assert html.unescape(html_code(text)) == f"<code>{visible(text)}</code>"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=ANY_TEXT)
def test_xml_text_round_trips_through_an_xml_parser(text):
    element = ET.Element("failure", message=visible(text))
    element.text = xml_text(text)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode").encode("utf-8"))
    assert (parsed.text or "", parsed.get("message")) == (visible(text, lines=True), visible(text))
