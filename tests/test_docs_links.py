"""The documentation holds together: README.md stays a front page, every relative link
and `#anchor` in it and in docs/ leads somewhere, every `rulesgen` command it shows is
one the parser accepts, and the generated reference pages are what the code produces."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import OUTPUT, ROOT, SPEC
from rulesgen.cli import parser
from rulesgen.reference import reference_files, subcommands

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
README_LIMIT = 10240  # bytes: a front page, read in one sitting

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
SHELL_OPERATORS = {"|", "||", "&&", ";", "&"}


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string and its lines."""

    info: str
    lines: list[str]


def split_page(text: str) -> tuple[list[str], list[Block]]:
    """The page's prose lines (fenced blocks left out) and its fenced blocks."""
    prose: list[str] = []
    blocks: list[Block] = []
    current: Block | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = Block(line[3:].strip(), [])
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.lines.append(line)
        else:
            prose.append(line)
    assert current is None, "a code block is never closed"
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, punctuation dropped, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a page, repeated headings numbered as GitHub numbers them."""
    prose, _ = split_page(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for line in prose:
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1).strip())
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[str]:
    """Every link target in the page's prose (code blocks and code spans are not links)."""
    prose, _ = split_page(path.read_text(encoding="utf-8"))
    return [m.group(1) for line in prose for m in LINK.finditer(INLINE_CODE.sub("", line))]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of `path` that lead to no file under `root`, or to no heading of that file."""
    broken = []
    for target in links(path):
        if urlsplit(target).scheme:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.is_relative_to(root) or not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(root)}")
    return broken


def malformed_urls(path: Path) -> list[str]:
    """Absolute links that are not well-formed http(s) URLs. Nothing is fetched."""
    bad = []
    for target in links(path):
        parts = urlsplit(target)
        if parts.scheme and (parts.scheme not in ("http", "https") or not parts.hostname):
            bad.append(target)
    return bad


def shown_commands(path: Path) -> Iterator[list[str]]:
    """The arguments of every `rulesgen` command in the page's console and sh blocks:
    a console block's `$ ` lines, every line of an sh block; pipes and `&&` end one."""
    _, blocks = split_page(path.read_text(encoding="utf-8"))
    for block in blocks:
        if block.info == "console":
            lines = [line[2:] for line in block.lines if line.startswith("$ ")]
        elif block.info == "sh":
            lines = "\n".join(block.lines).replace("\\\n", " ").splitlines()
        else:
            continue
        for line in lines:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            segment: list[str] = []
            for token in [*lexer, ";"]:
                if token in SHELL_OPERATORS:
                    if segment[:1] == ["rulesgen"]:
                        yield segment[1:]
                    segment = []
                else:
                    segment.append(token)


def refusal(args: list[str]) -> str | None:
    """Why rulesgen's own parser refuses `args`, or None. Parsing runs nothing."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser().parse_args(args)
    except SystemExit as exit_:
        return None if exit_.code == 0 else stderr.getvalue().strip().splitlines()[-1]
    return None


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


# --- the front page ------------------------------------------------------------------


def test_readme_is_a_front_page_of_at_most_10_kb() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/"


def test_readme_opens_with_what_it_is_then_the_first_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    order = [text.index(s) for s in ("rulesgen turns", "make generate", "make test", "## Commands", "## Documentation")]
    assert order == sorted(order)
    # A newcomer is told how long `make test` takes before running it.
    assert re.search(r"make test .*\n(?:\s*#.*\n)*?\s*#.*about \d+ minutes", readme_section("First run"))


def test_readme_example_is_the_real_spec_and_the_rule_it_becomes() -> None:
    _, blocks = split_page(readme_section("From threshold to rule"))
    spec, rule = ("\n".join(b.lines) for b in blocks)
    assert spec in SPEC.read_text(encoding="utf-8")
    assert rule in (OUTPUT / "prod" / "prometheus" / "billing.rules.yml").read_text(encoding="utf-8")
    assert 0 < len(spec.splitlines()) <= 12 and spec.lstrip().startswith("- name:")
    assert rule.lstrip().startswith("- alert:")


def test_readme_commands_table_has_one_row_per_subcommand_and_each_parses() -> None:
    rows = re.findall(r"^\| `rulesgen ([^`]+)` \| .* \| (.*) \|$", readme_section("Commands"), re.MULTILINE)
    assert sorted(command.split()[0] for command, _ in rows) == sorted(subcommands(parser())[0])
    for command, exit_codes in rows:
        assert refusal(shlex.split(command)) is None, command
        assert exit_codes.startswith("0"), command


# --- every page ----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_external_links_are_well_formed_http_urls(page: Path) -> None:
    assert malformed_urls(page) == []


def test_every_rulesgen_command_shown_is_one_the_parser_accepts() -> None:
    shown = [(page, args) for page in PAGES for args in shown_commands(page)]
    assert len(shown) >= 12, "the pages show fewer commands than they did: is the extraction broken?"
    refused = [f"{p.relative_to(ROOT)}: rulesgen {shlex.join(a)}: {why}" for p, a in shown if (why := refusal(a))]
    assert refused == []


def test_every_page_is_linked_from_the_docs_index() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / target.partition("#")[0]).resolve() for target in links(index)}
    assert {p.resolve() for p in PAGES if p not in (README, index)} <= linked


@pytest.mark.parametrize("rel", sorted(reference_files()))
def test_generated_reference_is_what_the_code_produces(rel: str) -> None:
    assert (ROOT / rel).read_text(encoding="utf-8") == reference_files()[rel], f"{rel} is stale: run `make docs`"


# --- the checker itself ----------------------------------------------------------------


def test_the_checker_finds_missing_files_and_headings_and_refused_commands(tmp_path: Path) -> None:
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "other.md").write_text("# Other\n\n## Some heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## Title\n\n```markdown\n## Inside a code block\n```\n\n"
        "[ok](#title) [again](#title-1) [there](guide/other.md#some-heading) [gone](missing.md) "
        "[no heading](guide/other.md#nowhere) [code block heading](#inside-a-code-block) "
        "[outside](../../etc/passwd) `[code](missing-too.md)`\n\n"
        "[web](https://example.com/a#b) [bad](ftp://example.com/x) [no host](https:///x)\n\n"
        "```sh\nrulesgen generate --no-such-option && rulesgen validate  # a comment\n"
        "make test | rulesgen check\n```\n\n"
        "```console\n$ rulesgen explain\nrulesgen printed this\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "missing.md: no such file",
        "guide/other.md#nowhere: no heading #nowhere in guide/other.md",
        "#inside-a-code-block: no heading #inside-a-code-block in page.md",
        "../../etc/passwd: no such file",
    ]
    assert malformed_urls(page) == ["ftp://example.com/x", "https:///x"]
    commands = list(shown_commands(page))
    assert commands == [["generate", "--no-such-option"], ["validate"], ["check"], ["explain"]]
    assert "unrecognized arguments: --no-such-option" in (refusal(commands[0]) or "")
    assert refusal(commands[1]) is None
    assert "required: alert" in (refusal(commands[3]) or "")


def test_slug_is_githubs_anchor() -> None:
    assert slug("`rulesgen diff`: what a [change](x.md) means") == "rulesgen-diff-what-a-change-means"
    assert slug("How `generate` writes output/") == "how-generate-writes-output"
    assert slug("1. Choose the kind") == "1-choose-the-kind"
