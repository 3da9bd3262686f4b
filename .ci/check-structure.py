#!/usr/bin/env python3
"""Fails on two kinds of structure the design rules out, which the compiler
accepts without a word:

- a cycle between the files of one crate: a.rs uses something of b.rs and
  b.rs (directly or through others) something of a.rs. Such files can only
  be read, tested and moved together; the usual one is a shared type living
  in the file that wires everything (`AppState` in startup.rs) while the
  files it wires import it back.
- a service depending on another service (services depend on libs, never on
  each other: DESIGN.md, Layout).

What counts as "file A imports file B", within one crate's src/:

- `use crate::a::b...` and `crate::a::b::f()` written in code, `use super::x`
  and `super::x::f()`. `crate::a::b::c` is the longest of
  src/a/b/c.rs, src/a/b/c/mod.rs, src/a/b.rs, src/a/b/mod.rs, src/a.rs,
  src/a/mod.rs that exists: the file that defines it (or that re-exports it;
  the check cannot tell the two apart).
- Not `mod x;`, nor a parent naming its own child by the bare name or
  through `self::` (`pub use child::Item`, `child::f()`): declaring and
  re-exporting its children is what a module is for. Reaching from a child into its parent (`use super::Item`)
  or a sibling is an import, and counts.
- Not lib.rs or main.rs as a target: `crate::Item` names what the root
  declares or re-exports, and almost every file would otherwise sit in one
  big cycle through the root.
- Not anything under exactly `#[cfg(test)]` (a test module importing its parent's
  items with `use super::*` is how unit tests are written), nor the files of
  test-only modules (`#[cfg(test)] mod tests;`).
- Only paths rooted in the crate itself: `other_crate::x` is a dependency
  between crates, which cargo already keeps acyclic.

Usage: .ci/check-structure.py [workspace-root]   (default: this repository)
Exit 0 with one line when clean; 1 listing each problem.
"""
import collections
import glob
import os
import re
import sys
import tomllib

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Comments and literals, blanked before looking for paths and braces: a `{`
# or a `crate::x` in a string or a doc comment is neither.
NOISE = re.compile(r'''
    //[^\n]*
  | /\*.*?\*/
  | (?<![\w])b?r(\#*)".*?"\1
  | (?<![\w])b?"(?:\\.|[^"\\])*"
  | (?<![\w])b?'(?:\\u\{[0-9a-fA-F_]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'
''', re.VERBOSE | re.DOTALL)
CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*")
TEST_MOD_FILE = re.compile(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
USE = re.compile(r"\buse\s+([^;]+);")
CODE_PATH = re.compile(r"(?<![\w$])(?:crate|super)(?:\s*::\s*\w+)+")
ROOTS = ("lib.rs", "main.rs")


def blank(text):
    """`text` with comments and literals replaced by spaces."""
    return NOISE.sub(lambda m: " " * len(m.group(0)), text)


def without_tests(code):
    """`code` without its `#[cfg(test)]` items, and the names of the
    test-only module files they declare."""
    test_mods, out, pos = [], [], 0
    for match in CFG_TEST.finditer(code):
        if match.start() < pos:
            continue  # inside an item already dropped
        out.append(code[pos:match.start()])
        named = TEST_MOD_FILE.match(code, match.end())
        if named:
            test_mods.append(named.group(1))
        pos = item_end(code, match.end())
    out.append(code[pos:])
    return "".join(out), test_mods


def item_end(code, at):
    """Where the item starting at `at` ends: after its block, or at its `;`
    (or `,`, for a field) outside any brackets; before the `}` that closes
    whatever holds it."""
    braces = brackets = 0
    for end in range(at, len(code)):
        ch = code[end]
        if ch in "([":
            brackets += 1
        elif ch in ")]":
            brackets -= 1
            if brackets < 0:
                return end
        elif ch == "{":
            braces += 1
        elif ch == "}":
            braces -= 1
            if braces == 0:
                return end + 1
            if braces < 0:
                return end
        elif ch in ";," and braces == 0 and brackets == 0:
            return end + 1
    return len(code)


def use_paths(tree):
    """The paths a use tree names: `crate::{a::B, c::{self, D as E}}` gives
    crate::a::B, crate::c and crate::c::D."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    if "{" not in tree:
        return [tree]
    head, _, rest = tree.partition("{")
    parts, depth, current = [], 0, ""
    for ch in rest[:-1]:  # the group, without its closing brace
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (ch == "{") - (ch == "}")
        current += ch
    parts.append(current)
    return [head.rstrip(":") if path == "self" else head + path
            for part in parts if part for path in use_paths(part)]


def module_of(rel):
    """The module path of a file under src/: a/b.rs and a/b/mod.rs are a::b."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod" or rel in ROOTS:
        parts = parts[:-1]
    return parts


def resolve(path, module, files):
    """The file (relative to src/) a `crate::` or `super::` path
    lands in, or None for the crate root."""
    segments = [s for s in re.split(r"\s*::\s*", path) if s]
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] == "super":
        base = list(module)
        while segments and segments[0] == "super":
            segments.pop(0)
            base = base[:-1]
    else:  # a bare name or self::, the module's own items and children
        return None
    full = base + [s for s in segments if s not in ("*", "self")]
    for k in range(len(full), 0, -1):
        for candidate in ("/".join(full[:k]) + ".rs", "/".join(full[:k]) + "/mod.rs"):
            if candidate in files:
                return candidate
    return None


def imports(src):
    """{file: {imported file: the first path that imports it}} for one crate."""
    files = {os.path.relpath(p, src).replace(os.sep, "/")
             for p in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)}
    graph, test_files = {}, set()
    for rel in sorted(files):
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            code, test_mods = without_tests(blank(f.read()))
        module = module_of(rel)
        # A test-only module's file: x.rs or x/mod.rs in this module's directory.
        for name in test_mods:
            here = "/".join(module)
            test_files |= {os.path.join(here, name + ".rs").lstrip("/"),
                           os.path.join(here, name, "mod.rs").lstrip("/")}
        paths = [p for m in USE.finditer(code) for p in use_paths(m.group(1))]
        paths += CODE_PATH.findall(USE.sub(" ", code))
        edges = {}
        for path in paths:
            target = resolve(path, module, files)
            if target and target != rel and target not in ROOTS:
                edges.setdefault(target, re.sub(r"\s+", "", path))
        graph[rel] = edges
    for rel in test_files & files:
        graph[rel] = {}
    for edges in graph.values():
        for rel in test_files & set(edges):
            del edges[rel]
    return graph


def cycles(graph):
    """One cycle through each strongly connected component of more than one
    file (Tarjan's algorithm; the graphs are small, recursion is fine)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append((sorted(component), cycle_in(graph, component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycle_in(graph, component):
    """The shortest cycle from the component's first file back to itself,
    staying inside the component (breadth first)."""
    start = min(component)
    previous, queue = {}, collections.deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return path[::-1] + [start]
            if nxt in component and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return [start]


def service_dependencies(members):
    """Each dependency of a crate under services/ on another crate there."""
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        workspace = tomllib.load(f)["workspace"]
    shared = workspace.get("dependencies", {})
    services = {os.path.normpath(m) for m in members if m.startswith("services/")}
    problems = []
    for member in sorted(services):
        toml = manifest(member)
        # Every table of dependencies, target-specific ones and build ones too.
        tables = [("", toml)] + [(f"target.{t}.", v) for t, v in toml.get("target", {}).items()]
        for where, table in tables:
            for kind in ("dependencies", "dev-dependencies", "build-dependencies"):
                for name, spec in table.get(kind, {}).items():
                    spec = spec if isinstance(spec, dict) else {}
                    path = None
                    if spec.get("path"):
                        path = os.path.normpath(os.path.join(member, spec["path"]))
                    elif spec.get("workspace") and isinstance(shared.get(name), dict):
                        path = shared[name].get("path") and os.path.normpath(shared[name]["path"])
                    # By path: a registry crate that shares a service's name is not that service.
                    if path in services and path != member:
                        problems.append(f"{member}/Cargo.toml: [{where}{kind}] {name}: a service depends on "
                                        f"another service ({path}); share it through libs/ instead")
    return problems


def manifest(member):
    with open(os.path.join(ROOT, member, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)


def main():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        patterns = tomllib.load(f)["workspace"]["members"]
    members = sorted(os.path.relpath(m, ROOT).replace(os.sep, "/")
                     for p in patterns for m in glob.glob(os.path.join(ROOT, p)))
    problems, files, arrows = [], 0, 0
    for member in members:
        graph = imports(os.path.join(ROOT, member, "src"))
        files += len(graph)
        arrows += sum(len(edges) for edges in graph.values())
        for component, path in cycles(graph):
            steps = " -> ".join(f"{a} ({graph[a][b]})" for a, b in zip(path, path[1:]))
            problems.append(f"{member}: cycle between {len(component)} files: {', '.join(component)}\n"
                            f"    {steps} -> {path[-1]}")
    problems += service_dependencies(members)
    for problem in problems:
        print(f"check-structure: {problem}")
    if problems:
        sys.exit(1)
    print(f"check-structure: ok ({len(members)} crates, {files} files, {arrows} imports between files; "
          "no cycle, no service depending on another)")


if __name__ == "__main__":
    main()
