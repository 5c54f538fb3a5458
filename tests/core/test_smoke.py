from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.testing import FakeChatModel


def test_prompt_model_parser_streams_tokens() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{input}")])
    chain = prompt | FakeChatModel("Task decomposition breaks tasks.") | StrOutputParser()
    tokens = ["Task", " decomposition", " breaks", " tasks", "."]
    assert list(chain.stream({"input": "q"})) == tokens
