"""README's role variable tables are the roles' argument specs and defaults (tools/role_tables.py)."""

import role_tables


def test_the_readme_says_what_the_roles_take():
    readme = (role_tables.ROOT / "README.md").read_text()
    assert role_tables.readme_with(role_tables.section()) == readme, \
        "README.md's role variables are behind: run python3 tools/role_tables.py --write"
