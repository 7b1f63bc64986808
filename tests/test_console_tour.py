"""The screenshot tour covers every screen, and the committed screenshots match it."""

from __future__ import annotations

import struct
from pathlib import Path
from urllib.parse import urlsplit

from soar_ext.console.screens import all_screens
from soar_ext.console.tour import TOUR, VIEWPORT, run_tour

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_tour_shows_every_screen_and_writes_a_screenshot_of_each_shot(console, page, tmp_path) -> None:
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(urlsplit(frame.url).path))
    page.set_default_timeout(15_000)
    urls = {name: server.base_url for name, server in console.simulators.items()}
    written = run_tour(page, console.base_url, console.engine, tmp_path, simulators=urls, runtime=console.runtime)
    assert [p.stem for p in written] == [shot.name for shot in TOUR]
    for path in written:
        width, height = png_size(path)
        assert width == VIEWPORT["width"] and height >= VIEWPORT["height"] // 2, path
    for screen in all_screens():
        assert any(path == screen.path or path.startswith(screen.path + "/") for path in visited), screen.title


def test_every_shot_of_the_tour_is_committed_for_the_operation_manual() -> None:
    committed = {p.stem for p in SCREENSHOTS.glob("*.png")}
    assert {shot.name for shot in TOUR} <= committed, "run: soar-ext console screenshots --out docs/screenshots"
    manual = (ROOT / "docs" / "operation-manual.md").read_text(encoding="utf-8")
    for shot in TOUR:
        assert f"screenshots/{shot.name}.png" in manual, shot.name
