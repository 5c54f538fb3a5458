"""The conversational chain the application answers with: the guide's chain,
with its sources numbered in the prompt so that a model can cite them.

``create_conversational_rag_chain`` stuffs the retrieved documents into the
system prompt as bare text, one after the other. Here each starts with its
number (``[1] ...``), the number the sources are shown with, and the system
prompt asks the model to cite by those numbers; the chain's shape (its runs,
their names and tags) is the guide's, so its events are the same.
"""

from __future__ import annotations

from typing import Any

from ragstream.core import Runnable
from ragstream.documents import Document, StuffedDocuments
from ragstream.prompts import ChatPromptTemplate, ChatPromptValue, MessagesPlaceholder

__all__ = ["CITING_QA_SYSTEM_PROMPT", "NumberedContextPrompt", "citing_rag_chain",
           "numbered_context"]

#: The guide's answer prompt, asking for citations by the numbers of the sources.
#: The request shares the paragraph of the guide's instructions, so the offline
#: model, which leaves that paragraph out of what it quotes, leaves it out too.
CITING_QA_SYSTEM_PROMPT = (
    "You are an assistant for question-answering tasks. "
    "Use the following pieces of retrieved context to answer "
    "the question. If you don't know the answer, say that you "
    "don't know. Use three sentences maximum and keep the "
    "answer concise. "
    "Each piece of context starts with its number in square brackets: "
    "after each sentence, cite the pieces it uses by their numbers, like [1] or [1][3]."
    "\n\n"
    "{context}"
)


def numbered_context(documents: list[Document], *, separator: str = "\n\n") -> StuffedDocuments:
    """The documents' text for a prompt, each preceded by its 1-based number.

    >>> str(numbered_context([Document("Cats purr."), Document("Dogs bark.")]))
    '[1] Cats purr.\\n\\n[2] Dogs bark.'
    """
    text = separator.join(f"[{n}] {doc.page_content}" for n, doc in enumerate(documents, 1))
    return StuffedDocuments(text, documents)


class NumberedContextPrompt(ChatPromptTemplate):
    """A chat prompt whose ``{context}``, when it holds stuffed documents, shows
    them numbered (see ``numbered_context``). It runs under the name of the
    guide's prompt, ``ChatPromptTemplate``."""

    name = "ChatPromptTemplate"

    def format_prompt(self, **values: Any) -> ChatPromptValue:
        context = values.get("context")
        if isinstance(context, StuffedDocuments):
            values["context"] = numbered_context(context.documents)
        return super().format_prompt(**values)


def citing_rag_chain(
    llm: Runnable[Any, Any],
    retriever: Runnable[Any, Any],
    *,
    qa_system_prompt: str = CITING_QA_SYSTEM_PROMPT,
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """``create_conversational_rag_chain(llm, retriever)`` with numbered sources:
    the same runs (``contextualize_q_llm`` and ``answer_llm`` tags, the guide's
    run names), input and output.

    >>> chain = citing_rag_chain(ChatOpenAI(model="gpt-4o-mini"), retriever)  # doctest: +SKIP
    >>> chain.invoke({"input": "Why do cats purr?"})["answer"]  # doctest: +SKIP
    'Cats purr when they are content [1].'
    """
    from ragstream.chains import (
        CONTEXTUALIZE_Q_SYSTEM_PROMPT,
        create_history_aware_retriever,
        create_retrieval_chain,
        create_stuff_documents_chain,
    )

    contextualize_q_prompt = ChatPromptTemplate.from_messages([
        ("system", CONTEXTUALIZE_Q_SYSTEM_PROMPT),
        MessagesPlaceholder("chat_history", optional=True),
        ("human", "{input}"),
    ])
    qa_prompt = NumberedContextPrompt([
        ("system", qa_system_prompt),
        MessagesPlaceholder("chat_history", optional=True),
        ("human", "{input}"),
    ])
    history_aware = create_history_aware_retriever(
        llm.with_config(tags=["contextualize_q_llm"]), retriever, contextualize_q_prompt
    )
    qa_chain = create_stuff_documents_chain(llm.with_config(tags=["answer_llm"]), qa_prompt)
    return create_retrieval_chain(history_aware, qa_chain)
