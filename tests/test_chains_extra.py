"""Chain constructor options beyond the guide's."""

from __future__ import annotations

from typing import Any

from ragstream.chains import create_conversational_rag_chain, create_stuff_documents_chain
from ragstream.documents import Document
from ragstream.prompts import ChatPromptTemplate, PromptTemplate
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel


class Two(BaseRetriever):
    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        return [Document("Cats purr.", {"source": "a"}), Document("Dogs bark.", {"source": "b"})]


def test_a_document_prompt_can_number_the_sources() -> None:
    model = FakeChatModel("Cats purr [1].")
    chain = create_conversational_rag_chain(
        model, Two(), document_prompt=PromptTemplate.from_template("[{index}] {page_content}")
    )
    out = chain.invoke({"input": "Do cats purr?", "chat_history": []})
    assert out["answer"] == "Cats purr [1]."
    system = model.calls[0][0].content
    assert "[1] Cats purr.\n\n[2] Dogs bark." in system


def test_documents_are_not_numbered_by_default() -> None:
    model = FakeChatModel("ok")
    prompt = ChatPromptTemplate.from_messages([("system", "{context}"), ("human", "{input}")])
    create_stuff_documents_chain(model, prompt).invoke(
        {"input": "q", "context": [Document("one"), Document("two")]}
    )
    assert model.calls[0][0].content == "one\n\ntwo"
