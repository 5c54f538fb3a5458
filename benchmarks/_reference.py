"""The same chains built on the reference framework, for same-run comparisons.

Needs ``pip install langchain-core langchain-classic`` (benchmarks only).
"""

from __future__ import annotations

from typing import Any


def available() -> bool:
    try:
        import langchain_classic  # noqa: F401
        import langchain_core  # noqa: F401
    except ImportError:
        return False
    return True


def _model(n: int) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    text = " ".join(f"w{i}" for i in range(n))
    # GenericFakeChatModel streams whitespace-separated pieces: n words -> 2n-1 chunks
    return GenericFakeChatModel(messages=iter([AIMessage(content=text)] * 10_000))


def simple_chain(n: int) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{input}")])
    return prompt | _model(n) | StrOutputParser()


def guide_chain(n: int) -> Any:
    from langchain_classic.chains import create_retrieval_chain
    from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    from langchain_core.documents import Document
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever

    class ListRetriever(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
            return [Document(page_content=f"passage {i} about task decomposition",
                             metadata={"source": f"s{i}"}) for i in range(4)]

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Use the context.\n\n{context}"), ("human", "{input}")]
    )
    qa = create_stuff_documents_chain(_model(n), prompt)
    return create_retrieval_chain(ListRetriever(), qa)
