"""The memory chatbot: langchain-openai's ChatOpenAI on our server, memories, SQLite, budget."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from ch17_serving.memory import (
    BufferMemory,
    MemoryChatbot,
    SQLiteChatHistory,
    SummaryMemory,
    VectorMemory,
    fit_to_budget,
    openai_chat_model,
    openai_embeddings,
)

KEY = "sk-test-good"


def test_langchain_conversation_persists_in_sqlite(server, backend, tmp_path):
    llm = openai_chat_model(server.url + "/v1", KEY, temperature=0, max_tokens=8)
    db = tmp_path / "s.sqlite"
    bot = MemoryChatbot(
        llm,
        SQLiteChatHistory(db, "s1"),
        BufferMemory(2),
        count_tokens=backend.count_tokens,
        budget_tokens=150,
    )
    answers = [bot.ask(q) for q in ("Hi, I am Tom.", "I like dragons.", "Tell me a story.")]
    assert all(isinstance(a, str) and a for a in answers)
    # buffer of 2: system + last exchange + the question
    assert [type(m) for m in bot.last_prompt] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
    ]
    reopened = SQLiteChatHistory(db, "s1").messages
    assert [m.content for m in reopened[::2]] == [
        "Hi, I am Tom.",
        "I like dragons.",
        "Tell me a story.",
    ]
    assert [m.content for m in reopened[1::2]] == answers
    assert SQLiteChatHistory(db, "other").messages == []


def test_budget_keeps_long_sessions_inside_the_context_window(server, backend, tmp_path):
    """Without a budget the tenth turn overflows the 256-token window; with one it never does."""
    import openai

    llm = openai_chat_model(server.url + "/v1", KEY, temperature=0, max_tokens=4)
    history = SQLiteChatHistory(tmp_path / "b.sqlite", "long")
    long_turn = "Please remember this detail about my garden and my three cats. " * 2
    for _ in range(8):
        history.add_messages([HumanMessage(long_turn), AIMessage("ok")])
    unbounded = MemoryChatbot(llm, history, BufferMemory(100), count_tokens=backend.count_tokens)
    try:
        unbounded.ask("And now?")
        overflowed = False
    except openai.BadRequestError as exc:
        overflowed = "context length" in str(exc)
    assert overflowed
    bounded = MemoryChatbot(
        llm, history, BufferMemory(100), count_tokens=backend.count_tokens, budget_tokens=180
    )
    assert bounded.ask("And now?")
    assert (
        sum(backend.count_tokens(f"{m.type}: {m.content}") + 2 for m in bounded.last_prompt) <= 180
    )
    assert bounded.last_prompt[-1].content == "And now?"


def test_summary_and_vector_memories(server, tmp_path):
    llm = openai_chat_model(server.url + "/v1", KEY, temperature=0, max_tokens=6)
    history = SQLiteChatHistory(tmp_path / "m.sqlite", "m")
    history.add_messages(
        [
            HumanMessage("My cat is called Whiskers."),
            AIMessage("Nice cat."),
            HumanMessage("The weather is rainy today."),
            AIMessage("Take an umbrella."),
            HumanMessage("I play the violin."),
            AIMessage("Lovely."),
        ]
    )
    summary = SummaryMemory(llm, k=2)
    ctx = summary.context(history.messages, "next")
    assert summary.summarized == 4 and isinstance(ctx[0], SystemMessage) and summary.summary
    assert [m.content for m in ctx[1:]] == ["I play the violin.", "Lovely."]
    vector = VectorMemory(openai_embeddings(server.url + "/v1", KEY), k=1)
    picked = vector.context(history.messages, "My cat is called Whiskers.")
    assert picked[0].content == "My cat is called Whiskers."  # retrieved by similarity
    assert picked[-1].content == "Lovely."  # plus the last exchange


def test_fit_to_budget_drops_oldest_first():
    msgs = [
        SystemMessage("sys"),
        HumanMessage("one two three"),
        AIMessage("four five"),
        HumanMessage("q"),
    ]
    kept = fit_to_budget(msgs, lambda s: len(s.split()), 13)
    assert [m.content for m in kept] == ["sys", "four five", "q"]
