"""The three chain constructors of the guide.

``create_retrieval_chain(retriever, combine_docs_chain)`` takes ``{"input": ...}``
(and any other keys, passed on) and streams ``input``, then ``context`` (the
retrieved documents), then ``answer`` token by token.
"""

from __future__ import annotations

from typing import Any

from ragstream.core import (
    Runnable,
    RunnableBranch,
    RunnableLambda,
    RunnablePassthrough,
)
from ragstream.documents import Document, StuffedDocuments
from ragstream.errors import InputError, UserError
from ragstream.parsers import StrOutputParser
from ragstream.prompts import PromptTemplate
from ragstream.retrievers import BaseRetriever

__all__ = [
    "CONTEXTUALIZE_Q_SYSTEM_PROMPT",
    "QA_SYSTEM_PROMPT",
    "create_conversational_rag_chain",
    "create_history_aware_retriever",
    "create_retrieval_chain",
    "create_stuff_documents_chain",
]

DEFAULT_DOCUMENT_PROMPT = PromptTemplate.from_template("{page_content}")
DEFAULT_DOCUMENT_SEPARATOR = "\n\n"


def format_document(doc: Document, prompt: PromptTemplate, *, index: int | None = None) -> str:
    """Render one document with a prompt over its text and metadata; ``{index}``
    is its 1-based position in the context (for prompts that number sources)."""
    values: dict[str, Any] = {"page_content": doc.page_content}
    if index is not None:
        values["index"] = index
    values.update(doc.metadata)
    return prompt.format(**values)


async def _get_input(x: Any) -> Any:
    if not isinstance(x, dict) or "input" not in x:
        raise InputError(
            f"the retrieval chain takes a dict with an 'input' key, got {type(x).__name__}"
            + (f" with keys {', '.join(map(repr, x))}" if isinstance(x, dict) else "")
        )
    return x["input"]


async def _has_no_history(x: Any) -> bool:
    return not (isinstance(x, dict) and x.get("chat_history"))


def create_stuff_documents_chain(
    llm: Runnable[Any, Any],
    prompt: Any,
    *,
    output_parser: Runnable[Any, Any] | None = None,
    document_prompt: PromptTemplate | None = None,
    document_separator: str = DEFAULT_DOCUMENT_SEPARATOR,
    document_variable_name: str = "context",
) -> Runnable[dict[str, Any], Any]:
    """A chain that puts a list of documents into ``prompt`` and asks ``llm``.

    The input dict must hold the documents under ``document_variable_name``
    (default ``context``) and the prompt's other variables.
    """
    if document_variable_name not in getattr(prompt, "input_variables", []):
        raise UserError(
            f"the prompt must have a {{{document_variable_name}}} variable for the documents; "
            f"it has {getattr(prompt, 'input_variables', [])}"
        )
    doc_prompt = document_prompt or DEFAULT_DOCUMENT_PROMPT

    async def format_docs(inputs: dict[str, Any]) -> str:
        docs = inputs[document_variable_name]
        if not isinstance(docs, list) or not all(isinstance(d, Document) for d in docs):
            raise InputError(
                f"format_docs: {document_variable_name!r} must be a list of Documents, "
                f"not {type(docs).__name__}"
            )
        text = document_separator.join(
            format_document(d, doc_prompt, index=i) for i, d in enumerate(docs, 1)
        )
        return StuffedDocuments(text, docs)

    chain: Runnable[dict[str, Any], Any] = (
        RunnablePassthrough.assign(**{document_variable_name: RunnableLambda(format_docs)})
        .with_config(run_name="format_inputs")
        | prompt
        | llm
        | (output_parser or StrOutputParser())
    ).with_config(run_name="stuff_documents_chain")
    return chain


def create_retrieval_chain(
    retriever: Runnable[Any, Any], combine_docs_chain: Runnable[Any, Any]
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """A chain that retrieves documents for ``input`` and answers with them.

    >>> # rag_chain = create_retrieval_chain(retriever, question_answer_chain)
    >>> # for chunk in rag_chain.stream({"input": "What is Task Decomposition?"}):
    >>> #     print(chunk)   # {'input': ...}, then {'context': [...]}, then {'answer': ...}
    """
    if isinstance(retriever, BaseRetriever):
        retrieval_docs: Runnable[Any, Any] = RunnableLambda(_get_input, name="RunnableLambda")
        retrieval_docs = retrieval_docs | retriever
    else:
        retrieval_docs = retriever
    return (
        RunnablePassthrough.assign(
            context=retrieval_docs.with_config(run_name="retrieve_documents")
        ).assign(answer=combine_docs_chain)
    ).with_config(run_name="retrieval_chain")


def create_history_aware_retriever(
    llm: Runnable[Any, Any], retriever: Runnable[Any, Any], prompt: Any
) -> Runnable[dict[str, Any], list[Document]]:
    """A retriever that first rewrites ``input`` into a standalone question using
    ``chat_history``. With no history the input goes straight to the retriever;
    otherwise the rewrite streams from ``llm`` and is used as the query."""
    if "input" not in getattr(prompt, "input_variables", []):
        raise UserError(
            f"the rewrite prompt must have an {{input}} variable; "
            f"it has {getattr(prompt, 'input_variables', [])}"
        )
    return RunnableBranch(
        (
            RunnableLambda(_has_no_history, name="RunnableLambda"),
            RunnableLambda(_get_input, name="RunnableLambda") | retriever,
        ),
        prompt | llm | StrOutputParser() | retriever,
    ).with_config(run_name="chat_retriever_chain")


#: The guide's prompts, used by ``create_conversational_rag_chain`` and the CLI/server.
CONTEXTUALIZE_Q_SYSTEM_PROMPT = (
    "Given a chat history and the latest user question "
    "which might reference context in the chat history, "
    "formulate a standalone question which can be understood "
    "without the chat history. Do NOT answer the question, "
    "just reformulate it if needed and otherwise return it as is."
)
QA_SYSTEM_PROMPT = (
    "You are an assistant for question-answering tasks. "
    "Use the following pieces of retrieved context to answer "
    "the question. If you don't know the answer, say that you "
    "don't know. Use three sentences maximum and keep the "
    "answer concise."
    "\n\n"
    "{context}"
)


def create_conversational_rag_chain(
    llm: Runnable[Any, Any],
    retriever: Runnable[Any, Any],
    *,
    rewrite_llm: Runnable[Any, Any] | None = None,
    qa_system_prompt: str = QA_SYSTEM_PROMPT,
    contextualize_system_prompt: str = CONTEXTUALIZE_Q_SYSTEM_PROMPT,
    document_prompt: PromptTemplate | None = None,
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """The guide's conversational chain in one call: the question is rewritten
    with ``chat_history`` (by a model tagged ``contextualize_q_llm``), documents
    are retrieved for it, and the answer (from a model tagged ``answer_llm``)
    streams with them.

    Input: ``{"input": question, "chat_history": [...]}``; output streams
    ``input``, ``chat_history``, ``context`` and ``answer``. A
    ``document_prompt`` such as ``PromptTemplate.from_template("[{index}]
    {page_content}")`` numbers the sources so that a model can cite them.
    """
    from ragstream.prompts import ChatPromptTemplate, MessagesPlaceholder

    contextualize_q_prompt = ChatPromptTemplate.from_messages(
        [
            ("system", contextualize_system_prompt),
            MessagesPlaceholder("chat_history", optional=True),
            ("human", "{input}"),
        ]
    )
    qa_prompt = ChatPromptTemplate.from_messages(
        [
            ("system", qa_system_prompt),
            MessagesPlaceholder("chat_history", optional=True),
            ("human", "{input}"),
        ]
    )
    history_aware = create_history_aware_retriever(
        (rewrite_llm or llm).with_config(tags=["contextualize_q_llm"]),
        retriever,
        contextualize_q_prompt,
    )
    qa_chain = create_stuff_documents_chain(
        llm.with_config(tags=["answer_llm"]), qa_prompt, document_prompt=document_prompt
    )
    return create_retrieval_chain(history_aware, qa_chain)
