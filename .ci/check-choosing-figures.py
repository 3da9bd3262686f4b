#!/usr/bin/env python3
"""Fails when docs/patterns/choosing.md quotes a measured figure that
bench/results/latest.md does not hold.

choosing.md compares REST, gRPC, a task queue and a domain event by the
figures `just bench` measured. A figure copied by hand goes stale when the
benchmark is run again, or is mistyped; this check catches both.

The convention in choosing.md:

- Measured figures are quoted only in tables placed between the markers
  `<!-- figures: bench/results/latest.md -->` and `<!-- /figures -->`
  (HTML comments: invisible on the rendered page). Nothing but tables and
  blank lines may sit between the markers, and every region must quote at
  least one figure. Numbers outside the regions are not checked, so they
  must not be measurements: settings and defaults only (`50 ms` of
  backoff, a `5 s` break).
- In each such table the first column names what was measured and may hold
  any text (`REST`, `figure 3`, `16 in flight`); the header row and the
  delimiter row are not read. Every number in the other columns is a
  figure, and must be written with its unit, exactly as latest.md writes
  the number (same digits, same decimals, no thousands separators):
  `0.11 ms`, `25809/s` or `12217 calls/s` (a rate: `/s`, optionally after
  a word), `×0.96` (a ratio), `26 MB`. A number in those columns without
  one of these units fails the check, so a figure cannot escape it by
  being written differently. Words are allowed around the figures
  (`p50 3.3 ms`, `12217 calls/s vs 12714 calls/s`).

The rule: each figure's number must occur in latest.md as a number of its
own (not inside a longer one: `0.11` is not found in `10.115`, and `p50`
is a name, not the number 50), and a ratio as `×` followed by that number.
The check proves the figure was measured in the latest run; it does not
prove it sits in the right row, so copy rows, do not compute them.

Usage: .ci/check-choosing-figures.py [root]   (default: this repository)
Exit 0 with one line when every figure is found; 1 naming each one that is
not (and each malformed region or figure).
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = "docs/patterns/choosing.md"
RESULTS = "bench/results/latest.md"

OPEN = re.compile(r"^\s*<!--\s*figures:\s*" + re.escape(RESULTS) + r"\s*-->\s*$")
CLOSE = re.compile(r"^\s*<!--\s*/figures\s*-->\s*$")
DELIMITER = re.compile(r"^\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*$")
# A number standing on its own: not part of a name (p50) or a longer number.
NUMBER = r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?!\d)"
FIGURE = re.compile(
    rf"(?P<ratio>×\s?)?(?P<number>{NUMBER})(?P<unit>\s?ms\b|\s?MB\b|(?:\s?[A-Za-z]+)?/s\b)?")


def regions(lines):
    """[(first line number, [(line number, line)])] between the markers, or
    raises ValueError on unbalanced markers."""
    found, current = [], None
    for number, line in enumerate(lines, start=1):
        if OPEN.match(line):
            if current is not None:
                raise ValueError(f"{PAGE}:{number}: a figures marker opened inside another (line {current[0]})")
            current = (number, [])
        elif CLOSE.match(line):
            if current is None:
                raise ValueError(f"{PAGE}:{number}: <!-- /figures --> without an opening marker")
            found.append(current)
            current = None
        elif current is not None:
            current[1].append((number, line))
    if current is not None:
        raise ValueError(f"{PAGE}:{current[0]}: a figures marker never closed")
    if not found:
        raise ValueError(f"{PAGE}: no <!-- figures: {RESULTS} --> ... <!-- /figures --> region")
    return found


def figures(region):
    """[(line number, figure text, number, is ratio)] of one region, and the
    problems found reading it."""
    out, problems, row = [], [], 0
    for number, line in region:
        text = line.strip()
        if not text:
            row = 0
            continue
        if not text.startswith("|"):
            problems.append(f"{PAGE}:{number}: only tables may sit between the figures markers: {text!r}")
            continue
        row += 1
        if row == 1 or (row == 2 and DELIMITER.match(text)):
            continue  # the header and the delimiter
        cells = text.strip("|").split("|")
        for cell in cells[1:]:
            for match in FIGURE.finditer(cell):
                figure = match.group(0).strip()
                if "," in match.group("number"):
                    problems.append(f"{PAGE}:{number}: `{figure}`: write it as {RESULTS} does, "
                                    "without thousands separators")
                elif not (match.group("ratio") or match.group("unit")):
                    problems.append(f"{PAGE}:{number}: `{figure}` has no unit (ms, /s, ×, MB); "
                                    "every number in a figures table's value columns is a measured figure")
                else:
                    out.append((number, figure, match.group("number"), bool(match.group("ratio"))))
    return out, problems


def main():
    try:
        with open(os.path.join(ROOT, PAGE), encoding="utf-8") as f:
            page = f.read().splitlines()
        with open(os.path.join(ROOT, RESULTS), encoding="utf-8") as f:
            results = f.read()
        found = regions(page)
    except (OSError, ValueError) as error:
        print(f"check-choosing-figures: {error}")
        sys.exit(1)
    numbers = set(re.findall(NUMBER, results))
    ratios = {re.sub(r"\s", "", m) for m in re.findall(rf"×\s?{NUMBER}", results)}
    problems, count = [], 0
    for start, region in found:
        quoted, read_problems = figures(region)
        problems += read_problems
        if not quoted and not read_problems:
            problems.append(f"{PAGE}:{start}: a figures region that quotes no figure")
        for number, figure, value, is_ratio in quoted:
            count += 1
            if (f"×{value}" not in ratios) if is_ratio else (value not in numbers):
                problems.append(f"{PAGE}:{number}: the figure `{figure}` is not in {RESULTS} "
                                f"({'no ×' + value if is_ratio else 'no number ' + value} there); "
                                "copy it from the latest run")
    for problem in problems:
        print(f"check-choosing-figures: {problem}")
    if problems:
        sys.exit(1)
    tables = f"{len(found)} marked table{'s' if len(found) > 1 else ''}"
    print(f"check-choosing-figures: ok ({count} figures in {tables} of {PAGE}, each found in {RESULTS})")


if __name__ == "__main__":
    main()
