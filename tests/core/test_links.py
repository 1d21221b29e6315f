"""The link rule: a link's text may not name another address than its target."""

from __future__ import annotations

import pytest

from bot.links import reveal_links, unfinished_link


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (
            "[https://good.example](https://evil.example)",
            "https://good.example (https://evil.example)",
        ),
        (
            '[good.example/login](<https://evil.example> "t")',
            "good.example/login (https://evil.example)",
        ),
        ("[https://x.example](http://[bad)", "https://x.example (http://[bad)"),
        ("[www.Good.example/](https://good.example)", "[www.Good.example/](https://good.example)"),
        ("[the docs](https://evil.example)", "[the docs](https://evil.example)"),
        ("[v1.2](https://good.example/v1.2)", "[v1.2](https://good.example/v1.2)"),
    ],
)
def test_only_links_whose_text_is_another_address_are_rewritten(written: str, shown: str) -> None:
    assert reveal_links(f"see {written}.") == f"see {shown}."


def test_an_unfinished_link_is_found_until_it_closes() -> None:
    assert unfinished_link("see [https://good.example](https://ev") == 4
    assert unfinished_link("see [a] b and [c](d) e") is None
