"""``ragstream chat``: history, rewritten follow-ups, sessions that persist,
Ctrl-C during an answer (kept, marked incomplete) and at the prompt (leaves)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import Cli, Spawn
from tests.cli.test_ask import model_of, read_until
from tests.servers import OpenAIServer, Reply, refused_url


def test_follow_ups_are_rewritten_with_the_history(cli: Cli, sample_home: Path) -> None:
    result = cli("chat", "--steps", "--session", "s1",
                 input="How do I ingest web pages?\nhow do I filter it with a CSS class?\n/exit\n")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "session 's1' (new)" in out
    first, second = out.split("you> how do I filter it")
    assert "search: How do I ingest web pages?" in first and "rewritten" not in first
    rewritten = second.split("rewritten question: ")[1].splitlines()[0]
    assert "it" not in rewritten.split() and "CSS class" in rewritten
    assert "--css-class" in second  # the answer found the option
    assert out.count("answer (offline extractive mode):") == 2
    # after each answer, the sources it cited, in the order it cited them
    for turn in (first, second):
        answer = turn.split("answer (offline extractive mode):\n")[1].splitlines()
        cited = [int(n) for n in re.findall(r"\[(\d+)\] ", answer[1])]
        assert answer[1].startswith("cited: [")
        assert cited == list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d)\]", answer[0])))
    assert "resume it with: ragstream chat --session s1" in result.stderr

    listed = json.loads(cli("sessions", "--json").stdout)
    assert [(s["id"], s["message_count"]) for s in listed] == [("s1", 4)]
    assert listed[0]["title"] == "How do I ingest web pages?"


def test_a_session_resumes_with_its_history(cli: Cli, sample_home: Path) -> None:
    cli("chat", "-s", "again", input="How do I ingest web pages?\n")

    resumed = cli("chat", "-s", "again", "--steps", input="/history\nhow do I filter it?\n")

    assert resumed.exit_code == 0, resumed.output
    assert "session 'again' (resumed, 2 messages)" in resumed.stdout
    assert "you: How do I ingest web pages?" in resumed.stdout
    assert "rewritten question: " in resumed.stdout  # the old turns count as history
    messages = json.loads(cli("sessions", "show", "again", "--json").stdout)
    assert len(messages) == 4


def test_a_model_error_keeps_the_session_open(cli: Cli, sample_home: Path) -> None:
    url = refused_url()
    result = cli("chat", "-s", "down", "--model", f"openai-compatible:m@{url}",
                 input="first?\nsecond?\n/exit\n")

    assert result.exit_code == 0
    assert result.stderr.count(f"error: cannot reach the model server at {url}") == 2
    assert result.stdout.count("you> ") == 3  # the prompt came back after each error


def test_an_unknown_collection_ends_before_the_prompt(cli: Cli, sample_home: Path) -> None:
    result = cli("chat", "-c", "nope", input="hello?\n")

    assert result.exit_code == 4 and "you>" not in result.stdout
    assert "collection 'nope' does not exist" in result.stderr


def test_ctrl_c_stops_the_answer_keeps_it_and_the_session_goes_on(
    spawn: Spawn, cli: Cli, sample_home: Path, openai_server: OpenAIServer
) -> None:
    openai_server.script(
        Reply(text=[f"w{i} " for i in range(100)], delay=0.1),
        Reply(text=["What comes after everything?"]),  # the follow-up, rewritten
        Reply(text=["The ", "second ", "answer."]),
    )
    process = spawn.popen("chat", "-s", "cut", "--model", model_of(openai_server),
                          stdin=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write("Tell me everything.\n")
    process.stdin.flush()
    read_until(process, "w3 ")

    process.send_signal(signal.SIGINT)
    read_until(process, "marked incomplete")
    process.stdin.write("And then?\n")
    process.stdin.flush()
    read_until(process, "second answer.")
    process.stdin.write("/exit\n")
    process.stdin.flush()
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 0, err
    messages = json.loads(cli("sessions", "show", "cut", "--json").stdout)
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    partial = messages[1]
    assert partial["response_metadata"]["incomplete"] is True
    assert partial["content"].startswith("w0 w1 w2 w3") and "w99" not in partial["content"]
    assert messages[3]["content"] == "The second answer."
    rewrite = json.loads(openai_server.requests[1].body)["messages"]
    assert "w0 w1 w2 w3" in json.dumps(rewrite)  # the partial answer was history
    assert "incomplete" not in (messages[3].get("response_metadata") or {})
    shown = cli("sessions", "show", "cut").stdout
    assert "ragstream [incomplete]: w0 w1" in shown


def test_ctrl_c_at_the_prompt_leaves(spawn: Spawn, sample_home: Path) -> None:
    process = spawn.popen("chat", "-s", "bye", stdin=subprocess.PIPE)
    read_until(process, "you> ")
    time.sleep(0.2)  # let it wait in input()

    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 0
    assert "session 'bye' saved" in err and "Traceback" not in err
