"""Nothing a student produced runs in an instructor's browser: active content becomes text.

Instructors open the notebooks in ``OUT/autograded`` in nbgrader's formgrader, which renders them
with nbconvert's HTML exporter: an output's ``text/html`` or ``application/javascript`` would run
there, as would raw HTML or a ``javascript:`` link in a written answer. :func:`sanitize_notebook`
rewrites a graded notebook so that what the student's code and answers put in it shows as text:

- outputs keep only ``text/plain``, ``image/png`` and ``image/jpeg`` (base64 only); every other
  type (HTML, SVG, JavaScript, Markdown, LaTeX, JSON, widget views, vendor types) is replaced by
  its source in ``text/plain``, cut to :data:`MAX_SOURCE_CHARS`; output metadata is dropped;
- streams and tracebacks keep their colours (nbconvert escapes them) but lose every other terminal
  control sequence (titles, hyperlinks);
- written answers (markdown answer cells) keep their text and formatting, but ``<`` and ``[`` are
  escaped, so that no HTML tag, link or image comes from the student; attachments are removed;
  the result is checked with nbconvert's own Markdown renderer, and shown as a code block if it
  still held anything active;
- cell metadata keeps only what nbgrader and nbconvert need, and widget state is removed.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_SOURCE_CHARS = 10_000  # of one removed output's source, shown to the instructor as text
CELL_METADATA_KEYS = ("nbgrader", "tags", "editable", "deletable", "collapsed", "scrolled")
NOTEBOOK_METADATA_DROPPED = ("widgets",)  # widget state comes from the kernel

# Terminal sequences: SGR (colours, kept: nbconvert's ansi2html renders them as escaped spans)
# and everything else (cursor moves, window titles, OSC 8 hyperlinks), which is removed.
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_OTHER_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b.")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_TAG = re.compile(r"[A-Za-z0-9_-]{1,64}")
# TeX commands of MathJax that make links, load code or set HTML attributes.
_TEX_ACTIVE = re.compile(r"\\(href|url|unicode|class|cssId|style|data|require|html)\b")


def sanitize_file(path: Path) -> bool:
    """Rewrite the notebook at ``path`` (a grader-written file in OUT/autograded) sanitized.

    Never raises for what is in the file: one that cannot be read or sanitized is replaced by a
    notebook that says so (nothing of it is left to render), and ``False`` is returned.
    """
    try:
        notebook = sanitize_notebook(nbformat.read(path, as_version=4))
    except Exception as error:  # a notebook nbgrader wrote, but nothing in it is trusted
        notebook = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell(
                    "The grader could not make this graded notebook safe to display "
                    f"({type(error).__name__}), so it was removed. The submission is unchanged."
                )
            ]
        )
        nbformat.write(notebook, path)
        return False
    nbformat.write(notebook, path)
    return True


def sanitize_notebook(notebook: NotebookNode) -> NotebookNode:
    """``notebook`` with no active content from the student (changed in place and returned)."""
    for key in NOTEBOOK_METADATA_DROPPED:
        notebook.metadata.pop(key, None)
    for cell in notebook.cells:
        _sanitize_cell_metadata(cell)
        if cell.cell_type == "code":
            cell.outputs = [_sanitize_output(output) for output in cell.get("outputs", [])]
        elif cell.cell_type == "markdown" and _is_answer(cell):
            cell.pop("attachments", None)
            cell.source = neutralize_markdown(str(cell.source))
    return notebook


def _is_answer(cell: NotebookNode) -> bool:
    """Whether a cell's text is the student's (an nbgrader answer cell)."""
    info = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(info, dict) and bool(info.get("solution"))


def _sanitize_cell_metadata(cell: NotebookNode) -> None:
    metadata = cell.get("metadata", {})
    kept = {key: metadata[key] for key in CELL_METADATA_KEYS if key in metadata}
    if "tags" in kept:  # nbconvert writes tags into class attributes
        tags = kept["tags"] if isinstance(kept["tags"], list) else []
        kept["tags"] = [t for t in tags if isinstance(t, str) and _TAG.fullmatch(t)]
    for flag in ("editable", "deletable", "collapsed", "scrolled"):
        if flag in kept and not isinstance(kept[flag], bool):
            del kept[flag]
    if "nbgrader" in kept and not isinstance(kept["nbgrader"], dict):
        del kept["nbgrader"]
    cell.metadata = nbformat.from_dict(kept)


def terminal_text(text: object) -> str:
    """Text for a ``<pre>``: colours kept, every other control sequence and character removed."""
    text = text if isinstance(text, str) else json.dumps(text, default=str)
    kept = []
    for piece in re.split(f"({_SGR.pattern})", text):
        kept.append(
            piece if _SGR.fullmatch(piece) else _CONTROL.sub("", _OTHER_ESCAPES.sub("", piece))
        )
    return "".join(kept)


def _sanitize_output(output: NotebookNode) -> NotebookNode:
    # Built as plain dicts: nbformat's new_output() validates each one, too slow for the tens of
    # thousands of small outputs a notebook can hold under the output cap.
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        new = {"name": name, "text": terminal_text(output.get("text", ""))}
    elif kind == "error":
        traceback = output.get("traceback", [])
        new = {
            "ename": terminal_text(output.get("ename", "")),
            "evalue": terminal_text(output.get("evalue", "")),
            "traceback": [terminal_text(line) for line in traceback if isinstance(line, str)]
            if isinstance(traceback, list)
            else [],
        }
    elif kind in ("display_data", "execute_result"):
        new = {"data": _safe_data(output.get("data", {})), "metadata": {}}
        if kind == "execute_result":
            count = output.get("execution_count")
            new["execution_count"] = count if isinstance(count, int) else None
    else:
        new = {"name": "stdout", "text": f"[an output of type {str(kind)[:40]!r} was removed]\n"}
        kind = "stream"
    return nbformat.from_dict({"output_type": kind, **new})


def _safe_data(data: object) -> dict:
    """A mime bundle with only safe types; the others' sources go into ``text/plain``."""
    if not isinstance(data, dict):
        return {"text/plain": "[an output with malformed data was removed]"}
    kept: dict[str, str] = {}
    removed: list[str] = []
    for mime, value in data.items():
        if mime in ("image/png", "image/jpeg") and _is_base64(value):
            kept[mime] = value
        elif mime == "text/plain":
            kept[mime] = terminal_text(value)
        else:
            removed.append(_as_text(str(mime), value))
    if removed:
        plain = kept.get("text/plain", "")
        kept["text/plain"] = "\n".join(([plain] if plain else []) + removed)
    return kept


def _as_text(mime: str, value: object) -> str:
    source = value if isinstance(value, str) else json.dumps(value, default=str)
    source = terminal_text(source)
    cut = ""
    if len(source) > MAX_SOURCE_CHARS:
        cut = f"\n[… {len(source) - MAX_SOURCE_CHARS} more characters not shown]"
        source = source[:MAX_SOURCE_CHARS]
    label = terminal_text(mime)[:100]
    return f"[{label} output shown as text by the grader]\n{source}{cut}"


def _is_base64(value: object) -> bool:
    if not isinstance(value, str) or not _BASE64.fullmatch(value):
        return False
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ------------------------------------------------------------------------- written answers


def neutralize_markdown(text: str) -> str:
    """Markdown that renders as the same text, with no HTML, link or image from ``text``.

    Outside code (fenced blocks and inline code spans, where Markdown shows characters as they
    are), every ``<`` and ``[`` that is not already escaped gets a backslash, so it renders as
    itself; MathJax commands that make links or set HTML are disarmed. The result is rendered
    with nbconvert's Markdown renderer and, if anything active is left, the whole answer is shown
    as a code block instead.
    """
    candidate = _escape_outside_code(_valid(text))
    if _renders_inert(candidate):
        return candidate
    everything = _escape_all(_valid(text))
    if _renders_inert(everything):
        return everything
    return _code_block(_valid(text))


def _valid(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _TEX_ACTIVE.sub(lambda m: m.group(1), text)


def _escape_all(text: str) -> str:
    return re.sub(r"(?<!\\)((?:\\\\)*)([<\[])", r"\1\\\2", text)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _escape_outside_code(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    prose: list[str] = []
    fence = ""
    for line in lines:
        match = _FENCE.match(line)
        if fence:
            out.append(line)
            closing = match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
            if closing and not line.strip().lstrip(fence[0]):
                fence = ""
            continue
        if match and not (match.group(1)[0] == "`" and "`" in line[match.end() :]):
            if prose:
                out.append(_escape_inline("\n".join(prose)))
            prose = []
            fence = match.group(1)
            out.append(line)
            continue
        prose.append(line)
        if not line.strip():  # a blank line ends a paragraph, and any code span in it
            out.append(_escape_inline("\n".join(prose)))
            prose = []
    if prose:
        out.append(_escape_inline("\n".join(prose)))
    return "\n".join(out)


_BACKTICKS = re.compile(r"`+")
_DISPLAY_CLOSE = re.compile(r"(?<!\\)\$\$")
_INLINE_CLOSE = re.compile(r"(?<![$\\])\$")


def _next(positions: list[int], after: int) -> int | None:
    """The first of the sorted ``positions`` at or after ``after``."""
    index = bisect.bisect_left(positions, after)
    return positions[index] if index < len(positions) else None


def _escape_inline(paragraph: str) -> str:
    """Escape ``<`` and ``[`` in a paragraph, except in its code spans and math (which the
    renderer shows as text, escaped). Linear: every closing delimiter is found by bisection."""
    runs: dict[int, list[int]] = {}
    for run in _BACKTICKS.finditer(paragraph):
        runs.setdefault(len(run.group()), []).append(run.start())
    display = [m.start() for m in _DISPLAY_CLOSE.finditer(paragraph)]
    inline = [m.start() for m in _INLINE_CLOSE.finditer(paragraph)]
    result: list[str] = []
    i = 0
    backslashes = 0  # how many backslashes right before position i
    while i < len(paragraph):
        char = paragraph[i]
        stop = None
        if backslashes % 2 == 0 and char == "`":
            run = _BACKTICKS.match(paragraph, i).end() - i
            close = _next(runs[run], i + run)
            stop = close + run if close is not None else i + run
        elif backslashes % 2 == 0 and char == "$":
            if paragraph.startswith("$$", i):
                close = _next(display, i + 2)
                stop = close + 2 if close is not None else None
            else:
                close = _next(inline, i + 2)
                stop = close + 1 if close is not None else None
        if stop is not None:  # a code span or math: the renderer shows it as it is
            result.append(paragraph[i:stop])
            i, backslashes = stop, 0
            continue
        if char in "<[" and backslashes % 2 == 0:
            result.append("\\")
        result.append(char)
        backslashes = backslashes + 1 if char == "\\" else 0
        i += 1
    return "".join(result)


def _code_block(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


# What nbconvert's Markdown renderer makes of text with no HTML, link or image in it.
SAFE_TAGS = frozenset(
    {"p", "em", "strong", "code", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li"}
    | {"blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "del", "s", "span"}
    | {"div", "sup", "sub"}
)


_SAFE_URL = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)
_ALIGN = re.compile(r"text-align:\s*(left|right|center);?")


class _ActiveFinder(HTMLParser):
    """Finds, in rendered Markdown, any tag outside :data:`SAFE_TAGS` and any attribute but those
    the renderer itself writes: heading ids and their ``#`` anchor links, web links of bare URLs,
    table alignment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.active: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS | {"a"}:
            self.active.append(tag)
        for name, value in attrs:
            value = value or ""
            allowed = (
                (tag == "a" and name == "href" and _SAFE_URL.match("".join(value.split())))
                or (tag == "a" and name == "class" and value == "anchor-link")
                or (tag in ("h1", "h2", "h3", "h4", "h5", "h6") and name == "id")
                or (tag in ("th", "td") and name == "style" and _ALIGN.fullmatch(value.strip()))
            )
            if not allowed:
                self.active.append(f"{tag} {name}={value!r}")

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        self.active.append("comment")  # only raw HTML makes one; browsers parse them differently

    def handle_decl(self, decl: str) -> None:
        self.active.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.active.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.active.append("declaration")


def _renders_inert(markdown: str) -> bool:
    """Whether nbconvert's Markdown renderer makes no tag, link or attribute that could act."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    finder = _ActiveFinder()
    try:
        finder.feed(markdown2html_mistune(markdown))
        finder.close()
    except Exception:  # e.g. RecursionError on thousands of nested lists: show it as code
        return False
    return not finder.active
