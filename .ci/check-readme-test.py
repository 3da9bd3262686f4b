#!/usr/bin/env python3
"""Fails when the README's Test section leaves out a step of `just test`.

The README tells a reader what `just test` does; the justfile's `test`
recipe is what it really does. When a step is added to the recipe and not
to the README (or the README drifts on its own), this check names the step.

What counts as a step: each command line of the `test:` recipe in
`justfile`, and each recipe it depends on (`test: build` makes `just build`
a step).

- The recipe starts at its header (`test:`, `test *args:`, `test: dep`,
  possibly after `[attributes]`) and runs over the indented lines below it
  until the first line that is neither indented nor blank.
- Comment lines in the body (`# ...`) are not steps. A line ending in `\\`
  is joined with the next one. just's line prefixes `@` (quiet) and `-`
  (ignore errors) are dropped: they say how a step runs, not what it is.

What counts as "mentioned": the step's command, split into
whitespace-separated words, appears as a run of consecutive words inside a
code span (`...`) or on one line of a fenced code block (``` or ~~~) of the
README's Test section. So spacing and line breaks inside a code span do not
matter, and text around the command in the same span or line (a prompt, a
trailing comment, a longer pipeline) is allowed; but every word must be
there, as written, in order: `cargo test --workspace` does not mention
`cargo test --workspace --locked`, and `--start-directory bench` does not
mention `--start-directory .ci`. Prose outside code spans and blocks never
counts, so a step must be named the way a reader would type it.

The Test section is everything under the README's ATX heading whose text
is exactly "Test" (`## Test`, any level) up to the next heading of the same
or a higher level; `#` lines inside fenced code blocks are not headings.
Indented (unfenced) code blocks are not read as code.

Usage: .ci/check-readme-test.py [root]   (default: this repository)
Exit 0 with one line when every step is mentioned; 1 naming each step that
is not (or saying what could not be found).
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = "test"
SECTION = "Test"

HEADER = re.compile(rf"^@?{RECIPE}(?=[\s:])")
QUOTED = re.compile(r"\"(?:\\.|[^\"\\])*\"|'[^']*'")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)


class Problem(Exception):
    pass


def recipe_steps(justfile):
    """[(line number, command)] for the recipe's dependencies and body."""
    lines = justfile.splitlines()
    for number, line in enumerate(lines):
        deps = header_dependencies(line) if HEADER.match(line) else None
        if deps is not None:
            break
    else:
        raise Problem(f"justfile: no `{RECIPE}:` recipe found")
    # Dependencies after the colon, `&&` ones too; `(dep "arg")` keeps its name.
    steps = [(number + 1, f"just {name}") for name in re.findall(r"[A-Za-z_][\w-]*", deps)]
    pending, start = "", None
    for offset, line in enumerate(lines[number + 1:], start=number + 2):
        if not line.strip():
            continue
        if not line[0].isspace():
            break
        text = line.strip()
        if not pending and text.startswith("#"):
            continue
        if start is None:
            start = offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        command = (pending + text).lstrip("@-").strip()
        steps.append((start, command))
        pending, start = "", None
    if pending:
        steps.append((start, pending.lstrip("@-").strip()))
    if not steps:
        raise Problem(f"justfile: the `{RECIPE}` recipe has no steps")
    return steps


def header_dependencies(line):
    """What follows the colon of a recipe header (quoted strings and the
    trailing comment removed), or None if `line` is not a header (an
    assignment such as `test := "x"`, or no colon outside quotes)."""
    bare = QUOTED.sub(lambda m: " " * len(m.group(0)), line)
    colon = bare.find(":")
    if colon < 0 or bare[colon + 1:colon + 2] == "=":
        return None
    return bare[colon + 1:].split("#", 1)[0]


def fenced(lines):
    """(line, kind) for each line: "fence" for the line that opens or closes a
    fenced code block, "code" for a line inside one, "text" otherwise."""
    fence = None
    for line in lines:
        mark = FENCE.match(line)
        if fence is None and mark:
            fence = mark.group(1)
            yield line, "fence"
        elif fence is None:
            yield line, "text"
        elif (mark and mark.group(1)[0] == fence[0] and len(mark.group(1)) >= len(fence)
              and not line.strip()[len(mark.group(1)):].strip()):
            fence = None
            yield line, "fence"
        else:
            yield line, "code"


def section(readme):
    """The lines of the README's Test section, without its heading."""
    out, level = None, 0
    for line, kind in fenced(readme.splitlines()):
        heading = HEADING.match(line) if kind == "text" else None
        if heading and out is not None and len(heading.group(1)) <= level:
            break
        if heading and out is None and heading.group(2) == SECTION:
            out, level = [], len(heading.group(1))
        elif out is not None:
            out.append(line)
    if out is None:
        raise Problem(f'README.md: no section headed "{SECTION}"')
    return out


def code_texts(lines):
    """Each code span's content and each line of each fenced code block."""
    texts, prose = [], []
    for line, kind in fenced(lines):
        if kind == "code":
            texts.append(line)
        else:
            prose.append("" if kind == "fence" else line)
    # A blank line (or a code block) ends a paragraph; no code span crosses it.
    for paragraph in re.split(r"\n\s*\n", "\n".join(prose)):
        texts += [m.group(2) for m in CODE_SPAN.finditer(paragraph)]
    return texts


def mentions(words, text):
    """Whether `words` occur as consecutive words of `text`."""
    have = text.split()
    return any(have[i:i + len(words)] == words for i in range(len(have) - len(words) + 1))


def missing_steps(justfile, readme):
    texts = code_texts(section(readme))
    return [(number, command) for number, command in recipe_steps(justfile)
            if not any(mentions(command.split(), text) for text in texts)]


def main():
    try:
        with open(os.path.join(ROOT, "justfile"), encoding="utf-8") as f:
            justfile = f.read()
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        steps = recipe_steps(justfile)
        missing = missing_steps(justfile, readme)
    except (OSError, Problem) as error:
        print(f"check-readme-test: {error}")
        sys.exit(1)
    for number, command in missing:
        print(f"check-readme-test: README.md's \"{SECTION}\" section does not mention the step `{command}` "
              f"(justfile line {number}, recipe `{RECIPE}`); name it in a code span or code block there")
    if missing:
        sys.exit(1)
    print(f"check-readme-test: ok (README.md's \"{SECTION}\" section names all {len(steps)} steps "
          f"of the `{RECIPE}` recipe)")


if __name__ == "__main__":
    main()
