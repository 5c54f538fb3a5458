"""``ragstream ask``: the streamed answer, --steps, --json, --events with filters,
a real model server, and the errors a user can meet."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import Cli, Spawn
from tests.servers import OpenAIServer, Reply, refused_url

QUESTION = "How do I use a real model instead of the offline mode?"


def model_of(server: OpenAIServer) -> str:
    return f"openai-compatible:test-model@{server.base_url}"


def test_the_answer_is_labelled_as_offline(cli: Cli, sample_home: Path) -> None:
    result = cli("ask", QUESTION)

    assert result.exit_code == 0, result.output
    answer, label = result.stdout.rstrip("\n").rsplit("\n", 1)
    assert re.search(r"\[\d\]", answer)  # quotes carry their source markers
    assert "--model" in answer
    assert label == "(offline extractive mode)"
    assert result.stderr == ""


def test_steps_show_the_query_and_the_sources_with_scores(cli: Cli, sample_home: Path) -> None:
    result = cli("ask", QUESTION, "--steps", "-k", "3")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"search: {QUESTION}"
    assert lines[1] == "sources:"
    rows = [line.split("\t") for line in lines[2:5]]
    assert [row[0] for row in rows] == ["[1]", "[2]", "[3]"]
    scores = [float(row[3]) for row in rows]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert all(row[2].endswith(".md") and row[1] for row in rows)  # source and title
    assert lines[5] == "answer (offline extractive mode):"
    # after the answer: the sources it cited, by number and title, in order of first use
    answer, cited, label = lines[6:]
    assert label == "(offline extractive mode)"
    markers = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d)\]", answer)))
    titles = {int(row[0][1:-1]): row[1] for row in rows}
    assert markers and cited == "cited: " + ", ".join(f"[{n}] {titles[n]}" for n in markers)


def test_json_is_one_object(cli: Cli, sample_home: Path) -> None:
    result = cli("ask", QUESTION, "--json")

    data = json.loads(result.stdout)
    assert data["question"] == data["query"] == QUESTION
    assert data["model"] == "offline extractive mode" and data["offline"] is True
    assert data["incomplete"] is False and data["answer"]
    assert len(data["sources"]) == 4 and data["collection"] == "docs"
    first = data["sources"][0]
    assert first["rank"] == 1 and first["source"].endswith(".md") and first["content"]
    assert isinstance(first["score"], float)
    assert data["timings"]["total_s"] > 0
    markers = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d)\]", data["answer"])))
    assert markers and data["citations"] == markers
    assert [s["rank"] for s in data["sources"] if s["cited"]] == sorted(markers)


def test_a_real_models_citations_are_listed_after_the_answer(
    cli: Cli, sample_home: Path, openai_server: OpenAIServer
) -> None:
    reply = ["Name", " it", " with", " --model", " [", "2", "]", " or", " RAGSTREAM_MODEL",
             " [", "1", ",", " 2", "]", " [", "9", "]", "."]
    openai_server.script(Reply(text=reply), Reply(text=reply), Reply(text=["No", " markers."]))

    steps = cli("ask", QUESTION, "--model", model_of(openai_server), "--steps", "-k", "2")
    as_json = cli("ask", QUESTION, "--model", model_of(openai_server), "--json", "-k", "2")
    uncited = cli("ask", QUESTION, "--model", model_of(openai_server), "--steps", "-k", "2")

    assert steps.exit_code == 0, steps.output
    lines = steps.stdout.splitlines()
    titles = [line.split("\t")[1] for line in lines[2:4]]
    assert lines[4:] == ["answer:", "".join(reply), f"cited: [2] {titles[1]}, [1] {titles[0]}"]
    # the model was given the sources by those numbers
    system = openai_server.requests[0].json["messages"][0]["content"]
    assert "\n\n[1] " in system and "\n\n[2] " in system and "\n\n[3] " not in system
    data = json.loads(as_json.stdout)
    assert data["citations"] == [2, 1] and [s["cited"] for s in data["sources"]] == [True, True]
    assert uncited.stdout.splitlines()[-1] == "cited: none"


def test_events_are_json_lines_and_filter_like_the_library(
    cli: Cli, sample_home: Path
) -> None:
    everything = [json.loads(line) for line in cli("ask", QUESTION, "--events").stdout.splitlines()]
    kinds = {e["event"] for e in everything}
    assert {"on_chain_start", "on_retriever_end", "on_chat_model_stream", "on_chain_end"} <= kinds
    keys = {"event", "name", "run_id", "tags", "metadata", "data", "parent_ids"}
    assert all(set(e) >= keys for e in everything)
    retrieved = next(e for e in everything if e["event"] == "on_retriever_end")
    assert retrieved["data"]["output"][0]["type"] == "Document"
    tokens = [e["data"]["chunk"]["content"] for e in everything
              if e["event"] == "on_chat_model_stream"]
    assert len(tokens) > 5

    only = cli("ask", QUESTION, "--events", "--include-types", "retriever,prompt")
    assert {json.loads(line)["event"] for line in only.stdout.splitlines()} == {
        "on_retriever_start", "on_retriever_end", "on_prompt_start", "on_prompt_end",
    }
    tagged = cli("ask", QUESTION, "--events", "--include-tags", "answer_llm",
                 "--events-version", "v1")
    events = [json.loads(line) for line in tagged.stdout.splitlines()]
    assert events and all("answer_llm" in e["tags"] for e in events)
    assert {e["event"] for e in events} == {
        "on_chat_model_start", "on_chat_model_stream", "on_chat_model_end",
    }
    assert all("parent_ids" not in e for e in events)  # v1 has none
    dropped = cli("ask", QUESTION, "--events", "--exclude-types", "chat_model,prompt",
                  "--exclude-names", "retrieval_chain")
    names = {(e["event"], e["name"]) for e in map(json.loads, dropped.stdout.splitlines())}
    assert names and not any(
        event.startswith(("on_chat_model", "on_prompt")) or name == "retrieval_chain"
        for event, name in names
    )


def test_unknown_and_empty_collections(cli: Cli, sample_home: Path, tmp_path: Path) -> None:
    unknown = cli("ask", QUESTION, "--collection", "nope")
    assert unknown.exit_code == 4
    assert unknown.stderr.count("\n") == 1
    assert "collection 'nope' does not exist" in unknown.stderr
    assert "ragstream ingest --collection nope PATH_OR_URL" in unknown.stderr

    folder = tmp_path / "gone"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nAlpha.", encoding="utf-8")
    assert cli("ingest", str(folder), "-c", "emptied").exit_code == 0
    (folder / "a.md").unlink()
    assert cli("ingest", str(folder), "-c", "emptied").exit_code == 3  # the folder has no files
    empty = cli("ask", QUESTION, "-c", "emptied")
    assert empty.exit_code == 4 and "collection 'emptied' is empty" in empty.stderr


def test_a_real_model_server_answers(
    cli: Cli, sample_home: Path, openai_server: OpenAIServer
) -> None:
    openai_server.script(Reply(text=["Set ", "--model ", "to a real model."]))

    result = cli("ask", QUESTION, "--model", model_of(openai_server), "--steps")

    assert result.exit_code == 0, result.output
    assert "answer:\nSet --model to a real model.\n" in result.stdout
    assert "offline extractive mode)" not in result.stdout  # no label on a real answer
    sent = json.loads(openai_server.requests[-1].body)
    assert sent["model"] == "test-model" and sent["stream"] is True
    system = sent["messages"][0]["content"]
    assert "retrieved context" in system and "--model" in system  # the sources went along


def test_an_unreachable_model_server_is_one_line(cli: Cli, sample_home: Path) -> None:
    url = refused_url()

    result = cli("ask", QUESTION, "--model", f"openai-compatible:m@{url}")

    assert result.exit_code == 1
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: cannot reach the model server at ")
    assert url in line and "--model" in line and "RAGSTREAM_MODEL" in line
    debug = cli("ask", QUESTION, "--model", f"openai-compatible:m@{url}", "--debug")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr


def test_usage_errors(cli: Cli, sample_home: Path) -> None:
    for args, message in [
        (["--steps", "--json"], "choose one of --steps, --json and --events"),
        (["--include-tags", "x"], "--include-tags filters --events; add --events"),
        (["--k", "0"], "k = 0 from flag --k"),
        (["--model", "nonsense:x"], "unknown chat model provider 'nonsense'"),
        (["--embeddings", "bogus"], "unknown embeddings 'bogus'"),
    ]:
        result = cli("ask", QUESTION, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    assert cli("ask", "   ").exit_code == 2


def test_the_question_can_come_from_stdin(cli: Cli, sample_home: Path) -> None:
    result = cli("ask", "-", "--json", input=QUESTION + "\n")

    assert json.loads(result.stdout)["question"].strip() == QUESTION


def test_a_question_in_a_session_is_saved(cli: Cli, sample_home: Path) -> None:
    assert cli("ask", QUESTION, "--session", "work").exit_code == 0
    follow = cli("ask", "How do I configure it?", "--session", "work", "--json")

    assert json.loads(follow.stdout)["rewritten"]  # the history made it a follow-up
    messages = json.loads(cli("sessions", "show", "work", "--json").stdout)
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]


# -- the real program: streaming and Ctrl-C -----------------------------------------


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 60) -> str:
    """Read stdout until ``marker`` shows (os.read: no buffering ahead)."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            process.kill()
            raise AssertionError(f"no {marker!r} within {timeout} s in {seen!r}")
        chunk = os.read(fd, 4096).decode()
        assert chunk, f"stdout closed before {marker!r}: {seen!r}"
        seen += chunk
    return seen


def test_the_answer_streams_token_by_token(
    spawn: Spawn, sample_home: Path, openai_server: OpenAIServer
) -> None:
    openai_server.script(Reply(text=["first ", "second ", "third ", "last"], delay=0.4))
    process = spawn.popen("ask", QUESTION, "--model", model_of(openai_server))

    read_until(process, "first")
    arrived = time.monotonic()
    rest = process.communicate(timeout=60)[0]
    finished = time.monotonic()

    assert process.returncode == 0
    assert "second third last" in rest
    assert finished - arrived > 0.8  # the first token came well before the answer ended


def test_ctrl_c_stops_the_answer(
    spawn: Spawn, sample_home: Path, openai_server: OpenAIServer
) -> None:
    openai_server.script(Reply(text=[f"w{i} " for i in range(100)], delay=0.2))
    process = spawn.popen("ask", QUESTION, "--model", model_of(openai_server))
    read_until(process, "w1 ")

    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130
    assert time.monotonic() - started < 5
    assert "w99" not in out
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
