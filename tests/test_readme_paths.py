"""The README's table of socket paths, rendered from the spec by tools/readme_paths."""

from __future__ import annotations

from pathlib import Path

from dockspec import builtin_spec

SPEC = builtin_spec()


def test_readme_paths_section_round_trip(tmp_path: Path) -> None:
    from tools import readme_paths

    section = readme_paths.render(SPEC)
    for rule in SPEC.endpoints:
        assert f"`{rule.id}`" in section
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nno section yet\n")
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 1  # no markers: stale
    readme.write_text(f"# x\n\n{readme_paths.BEGIN}\nold\n{readme_paths.END}\n\nafter\n")
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 1
    assert readme_paths.main(["--readme", str(readme)]) == 0
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n\n<!-- paths:begin -->") and text.endswith("<!-- paths:end -->\n\nafter\n")
