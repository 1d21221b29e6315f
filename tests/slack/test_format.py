"""Model Markdown reaches Slack readable and unable to ping anyone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.format import ZERO_WIDTH_SPACE, asked, neutralise, settled, to_mrkdwn

PINGS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S1|@team>", "<@U123>", "@channel")


def test_every_ping_is_broken() -> None:
    for ping in PINGS:
        safe = neutralise(f"hey {ping} look")
        assert ping not in safe
        assert safe.replace(ZERO_WIDTH_SPACE, "") == f"hey {ping} look"


def test_mrkdwn_conversion() -> None:
    text = to_mrkdwn("# Title\n**bold** and [docs](https://x.y) <!channel>")
    assert text.startswith("*Title*\n*bold* and <https://x.y|docs>")
    assert "<!channel>" not in text


def test_the_models_angle_brackets_are_text_not_links() -> None:
    assert to_mrkdwn("if a < b && c > d") == "if a &lt; b &amp;&amp; c > d"


def test_a_converted_link_cannot_become_a_ping() -> None:
    assert "<!here" not in to_mrkdwn("[click](!here)")


def test_asked_line_keeps_the_prompt_but_not_its_pings() -> None:
    line = asked("U1", "ping <!channel> & @here")
    assert line.startswith("<@U1> asked: ping &lt;")
    assert "<!channel>" not in line and "@here" not in line


PIECES = ("[https://a.example]", "(https://b.example", ")", "[", "](", "<", "!here", "@", "|", " ")
"""Pings, raw links and Markdown links in the making."""
settling = st.one_of(
    st.text(alphabet="<@!chanelrywo x", max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
)


@given(settling, settling)
def test_settled_text_never_changes_once_sent(head: str, tail: str) -> None:
    sent = neutralise(settled(head))
    assert neutralise(head + tail).startswith(sent)


DISGUISED = "[https://good.example](https://evil.example)"


def test_a_link_whose_text_is_another_url_shows_its_real_target() -> None:
    for rendered in (neutralise(f"see {DISGUISED}"), to_mrkdwn(f"see {DISGUISED}")):
        assert "https://evil.example" in rendered
        assert "|https://good.example" not in rendered and "](https://evil" not in rendered
    assert to_mrkdwn("[docs](https://x.y)") == "<https://x.y|docs>"


def test_raw_slack_links_in_markdown_are_text() -> None:
    for raw in ("<https://evil.example|https://good.example>", "<mailto:a@b.c|me>", "<#C1|x>"):
        safe = neutralise(f"click {raw}")
        assert raw not in safe and safe.replace(ZERO_WIDTH_SPACE, "") == f"click {raw}"
    assert neutralise("std::vector<std::string>") == "std::vector<std::string>"
