"""Issue #14, step one: the mechanical moves of the house rebuild (git mv + import rewriting).

Run once from the repository root (`python3 tools/house_moves.py .`), then `ruff check --fix`,
the hand fixes the 2026-12-07 session note lists, and delete this file and
house_importlinter.toml in the same commit. Dry run that day (before the #13 merges): 309 tests
of cli, server, text, docs and golden passed; lint-imports found only service.jobs ->
server.inputs / server.errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
SRC = ROOT / "src" / "contentguard"

# old dotted module (under contentguard.) -> new dotted module
MOVES: dict[str, str] = {
    "text.normalize": "media.text",
    "text.encoder": "detectors.text.encoder",
    "text.profanity": "detectors.text.profanity",
    "text.heads": "detectors.text.heads",
    "text.training": "training.text.train",
    "text.datasets": "training.text.datasets",
    "detectors.nsfw_classifier": "detectors.image.nsfw_classifier",
    "detectors.nudity_detector": "detectors.image.nudity_detector",
    "detectors.resize": "detectors.image.resize",
    "detectors.nms": "detectors.image.nms",
    "detectors.profanity_detector": "detectors.text.profanity_detector",
    "detectors.text_classifier": "detectors.text.text_classifier",
    "media.fetch": "net.fetch",
    "media.callback": "net.callback",
    "policy": "moderation.policy",
    "pipeline": "moderation.image",
    "text_moderation": "moderation.text",
    "batcher": "moderation.batcher",
    "server.engine": "service.engine",
    "server.async_jobs": "service.jobs",
    "server.webhooks": "service.webhooks",
    "server.background": "service.tasks",
    "cli_team": "cli.team",
    "cli_labels": "cli.labels",
    "scan": "workers.scan",
    "bench_load": "bench.load",
    "bench_text": "bench.text",
    "server.routes_api": "server.api.moderate",
    "server.routes_admin": "server.api.admin",
    "server.routes_webhooks": "server.api.webhooks",
    "server.routes_review": "server.api.review",
    "server.routes_appeals": "server.api.appeals",
    "server.routes_health": "server.api.health",
    "server.routes_ui": "server.pages.ui",
    "server.routes_auth": "server.pages.auth",
    "server.routes_admin_pages": "server.pages.admin",
}
# modules whose old name becomes a package: moved to <pkg>/__init__ or a module inside it
PACKAGE_MOVES: dict[str, str] = {
    "cli": "cli",  # cli.py -> cli/__init__.py (same dotted name)
    "bench": "bench.images",  # bench.py -> bench/images.py (contentguard.bench.images is then the package)
}
DIRS = {"policies": "moderation/policies", "text/heads": "detectors/text/heads"}
NEW_PACKAGES = {
    "net": "Outbound HTTP under the SSRF rules.",
    "detectors/image": "Image detectors.",
    "detectors/text": "Text detectors and the model runtimes they use.",
    "moderation": "Signals to decisions.",
    "service": "The application shared by every surface.",
    "training": "Offline training.",
    "training/text": "Training of the text heads.",
    "cli": None,
    "workers": "Processes that are not the HTTP service.",
    "bench": "Benchmarks.",
    "server/api": "The JSON API routers.",
    "server/pages": "The HTML page routers.",
}


def path_of(dotted: str) -> Path:
    return SRC.joinpath(*dotted.split(".")).with_suffix(".py")


def git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=ROOT, check=True)


def main() -> None:
    for pkg, doc in NEW_PACKAGES.items():
        d = SRC / pkg
        d.mkdir(parents=True, exist_ok=True)
        init = d / "__init__.py"
        if doc is not None and not init.exists():
            init.write_text(f'"""{doc}"""\n')
    for old, new in MOVES.items():
        src, dst = path_of(old), path_of(new)
        dst.parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(src), str(dst))
    git("mv", str(SRC / "cli.py"), str(SRC / "cli" / "__init__.py"))
    git("mv", str(SRC / "bench.py"), str(SRC / "bench" / "images.py"))
    for old, new in DIRS.items():
        (SRC / new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(SRC / old), str(SRC / new))
    if (SRC / "text" / "__init__.py").exists():
        git("rm", "-q", str(SRC / "text" / "__init__.py"))
    # rewrite dotted names (single pass, longest first)
    names = {**MOVES, "bench": "bench.images", "policies": "moderation.policies"}
    alternation = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    dotted = re.compile(rf"\bcontentguard\.({alternation})(?![A-Za-z0-9_])")
    # from contentguard[.pkg] import a, b as c
    from_import = re.compile(
        r"^(?P<indent>[ \t]*)from contentguard(?P<pkg>(?:\.[a-z_]+)*) import (?P<names>\([^)]*\)|[^\n#]+)",
        re.M,
    )

    def fix_from(m: re.Match[str]) -> str:
        pkg = m.group("pkg").lstrip(".")
        raw = m.group("names")
        inner = raw.strip().strip("()")
        parts = [p.strip() for p in inner.replace("\n", " ").split(",") if p.strip()]
        stay: list[str] = []
        moved: dict[str, list[str]] = {}
        for part in parts:
            name, _, alias = part.partition(" as ")
            name, alias = name.strip(), alias.strip()
            full = f"{pkg}.{name}" if pkg else name
            if full in MOVES:
                new = MOVES[full]
            elif full == "bench" and not pkg:
                new = "bench.images"
            else:
                stay.append(part)
                continue
            parent, _, leaf = new.rpartition(".")
            local = alias or name
            moved.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
        if not moved:
            return m.group(0)
        lines = []
        indent = m.group("indent")
        if stay:
            lines.append(f"{indent}from contentguard{m.group('pkg')} import {', '.join(stay)}")
        for parent, leaves in moved.items():
            where = f"contentguard.{parent}" if parent else "contentguard"
            lines.append(f"{indent}from {where} import {', '.join(leaves)}")
        return "\n".join(lines)

    files = [p for base in ("src", "tests", "tools", "benchmarks") for p in (ROOT / base).rglob("*")
             if p.suffix in {".py", ".toml", ".cfg", ".ini", ".md", ".txt", ".sh"} and p.is_file()]
    files += [ROOT / "pyproject.toml", ROOT / "Makefile", ROOT / "README.md"]
    files += list((ROOT / "docs").rglob("*.md"))
    for f in set(files):
        if not f.exists():
            continue
        text = f.read_text()
        new = text
        if f.suffix == ".py":
            new = from_import.sub(fix_from, new)
        new = dotted.sub(lambda m: "contentguard." + names[m.group(1)], new)
        if new != text:
            f.write_text(new)
    def edit(rel: str, old: str, new: str) -> None:
        f = ROOT / rel
        text = f.read_text()
        assert old in text, (rel, old)
        f.write_text(text.replace(old, new))

    edit("src/contentguard/server/pages/ui.py", "HERE = Path(__file__).parent\n",
         "HERE = Path(__file__).parent.parent  # server/: templates/ and static/\n")
    edit("src/contentguard/bench/images.py", "Path(__file__).resolve().parents[2]",
         "Path(__file__).resolve().parents[3]")
    edit("pyproject.toml", '"policies/*.yaml"', '"moderation/policies/*.yaml"')
    edit("pyproject.toml", '"text/heads/*.npz", "text/heads/*.json"',
         '"detectors/text/heads/*.npz", "detectors/text/heads/*.json"')
    (SRC / "models" / "__init__.py").write_text(
        '"""The model store: specs, cards, pull, verify; model sources and converters."""\n')
    (SRC / "detectors" / "__init__.py").write_text(
        '"""Models that score content, and their registry (the plugin API: base.py)."""\n')
    (SRC / "cli" / "__main__.py").write_text(
        '"""`python -m contentguard.cli`: the same commands as the `contentguard` entry point."""\n\n'
        "from contentguard.cli import main\n\nmain()\n")
    with open(ROOT / "pyproject.toml", "a") as f:
        f.write((ROOT / "tools" / "house_importlinter.toml").read_text())
    print("moved")


if __name__ == "__main__":
    main()
