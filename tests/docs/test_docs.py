"""Documentation that is generated from code stays in step with it."""
from pathlib import Path

from medflow.config import SETTINGS, settings_table_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_configuration_page_lists_every_setting_as_generated():
    page = (DOCS / "operators" / "configuration.md").read_text()
    table = page.split("<!-- settings-table:start -->\n", 1)[1].split("<!-- settings-table:end -->", 1)[0]
    assert table == settings_table_markdown(), "regenerate the table: python -m medflow.config"
    for setting in SETTINGS:
        assert f"`{setting.env_var}`" in table


def test_readme_links_resolve():
    readme = (DOCS.parent / "README.md").read_text()
    import re
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (DOCS.parent / target).exists(), f"README links to missing {target}"
