"""Every Python block of README.md and docs/*.md runs as written, top to bottom per page.

Each page is self-contained: its blocks, joined in order, run in a fresh interpreter inside an
empty folder. A block that needs a file the user downloads says so on the line before it,
``<!-- doc-test: skip (the reason) -->``, and is skipped here with that reason shown.
"""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- doc-test: skip \((?P<reason>[^)]*)\) -->\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(page):
    """(code, skip reason or None) for each Python block of a page, in order."""
    return [(m["code"], m["reason"]) for m in BLOCK.finditer(page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_runs_as_written(page, tmp_path):
    runnable = [code for code, reason in blocks(page) if reason is None]
    if not runnable:
        pytest.skip(f"{page.name} has no Python block to run")
    result = subprocess.run([sys.executable, "-c", "\n".join(runnable)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{page.name} failed:\n{result.stderr[-3000:]}"


SKIPPED = [(page, i, reason) for page in PAGES for i, (_, reason) in enumerate(blocks(page)) if reason is not None]


@pytest.mark.parametrize("page, index, reason", SKIPPED,
                         ids=[f"{p.name}-block{i}" for p, i, _ in SKIPPED] or None)
def test_marked_block_is_skipped_with_its_reason(page, index, reason):
    assert reason.strip(), f"{page.name} block {index} is marked to skip without a reason"
    pytest.skip(f"{page.name}, block {index + 1}: {reason}")
