"""Files shared in Slack reach the model by the same rules as on Discord, downloaded with the bot
token from Slack's file host only."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.slack.harness import running_slack

PNG = b"\x89PNG\r\n\x1a\n fake image"


async def test_a_text_file_and_an_image_reach_the_model_and_other_files_get_a_note(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path) as slack:
        peer = slack.peer
        files = [
            peer.share("F1", "notes.md", "text/markdown", b"# Plan\nship on friday"),
            peer.share("F2", "shot.png", "image/png", PNG),
            peer.share("F3", "bundle.zip", "application/zip", b"PK\x03\x04"),
        ]
        event = slack.message("what do you make of these?", subtype="file_share", files=files)
        await slack.sender.event(event)
        await peer.wait_for(lambda: peer.called("chat.stopStream"))
    turn = slack.backend.calls[0][-1]
    assert "what do you make of these?" in turn.content
    assert "[Attached file notes.md]" in turn.content and "ship on friday" in turn.content
    assert "bundle.zip (application/zip)" in turn.content
    assert turn.images == ("data:image/png;base64," + base64.b64encode(PNG).decode(),)
    # Both readable files were fetched with the bot token; the zip was not fetched at all.
    assert sorted(path for _, path, _ in peer.downloads) == [
        "/files-pri/F1/notes.md",
        "/files-pri/F2/shot.png",
    ]
    assert {auth for _, _, auth in peer.downloads} == {"Bearer xoxb-test"}


async def test_a_file_over_the_cap_is_described_not_downloaded(tmp_path: Path) -> None:
    async with running_slack(tmp_path, max_attachment_bytes=100) as slack:
        big = slack.peer.share("F1", "big.log", "text/plain", b"x" * 101)
        await slack.sender.event(slack.message("", subtype="file_share", files=[big]))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
    assert "big.log (text/plain)" in slack.backend.calls[0][-1].content
    assert slack.peer.downloads == []


async def test_the_token_never_leaves_slacks_file_host(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        peer = slack.peer
        # `localhost` is this same peer under another host name: a request there would show.
        elsewhere = f"http://localhost:{peer.port}/files-pri/F9/stolen.txt"
        moved = peer.share("F1", "moved.txt", "text/plain", b"secret plans")
        peer.redirects["F1"] = elsewhere
        foreign = peer.share("F2", "foreign.txt", "text/plain", b"hello") | {
            "url_private": elsewhere,
            "url_private_download": elsewhere,
        }
        event = slack.message("read these", subtype="file_share", files=[moved, foreign])
        await slack.sender.event(event)
        await peer.wait_for(lambda: peer.called("chat.stopStream"))
    assert [(host, path) for host, path, _ in peer.downloads] == [
        (f"127.0.0.1:{peer.port}", "/files-pri/F1/moved.txt")
    ]
    turn = slack.backend.calls[0][-1]
    assert "moved.txt (text/plain)" in turn.content and "foreign.txt (text/plain)" in turn.content
    assert "secret plans" not in turn.content


async def test_images_past_the_cap_are_left_out_with_one_line_and_the_message_is_answered(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path, max_images=1, max_image_bytes=100) as slack:
        peer = slack.peer
        files = [
            peer.share("F1", "small.png", "image/png", PNG),
            peer.share("F2", "second.png", "image/png", PNG),
            peer.share("F3", "huge.png", "image/png", PNG + b"x" * 100),
            peer.share("F4", "notes.md", "text/markdown", b"ship on friday"),
        ]
        event = slack.message("compare these", subtype="file_share", files=files)
        await slack.sender.event(event)
        await peer.wait_for(lambda: peer.called("chat.stopStream"))
    (told,) = peer.called("chat.postEphemeral")
    assert told.params["user"] == "U0ALICE" and told.params["thread_ts"] == event["ts"]
    assert told.params["text"] == (
        "Not read: second.png, huge.png (at most 1 image of up to 0.0001 MB each per message)."
    )
    turn = slack.backend.calls[0][-1]
    assert "compare these" in turn.content and "ship on friday" in turn.content
    assert "second.png (image/png)" in turn.content and "huge.png (image/png)" in turn.content
    assert turn.images == ("data:image/png;base64," + base64.b64encode(PNG).decode(),)
    # Images left out are never fetched.
    downloaded = sorted(path for _, path, _ in peer.downloads)
    assert downloaded == ["/files-pri/F1/small.png", "/files-pri/F4/notes.md"]
    (answer,) = [m for m in peer.messages.values() if m.thread_ts == event["ts"]]
    assert answer.text == f"echo: {turn.content}"
