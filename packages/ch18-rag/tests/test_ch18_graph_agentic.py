"""Graph RAG on kuzu (and the same Cypher through a Neo4j driver), agentic and chat RAG."""

from __future__ import annotations

from ch18_rag.agentic import (
    ChatSession,
    decompose,
    groundedness,
    iterative_answer,
    rewrite_followup,
)
from ch18_rag.graph import (
    CREATE_REL,
    MERGE_ENTITY,
    OUTGOING,
    KuzuGraph,
    Neo4jGraph,
    Triple,
    analyse,
    build_graph,
    extract_triples,
)
from ch18_rag.retrieval import Retriever


def test_extract_triples():
    text = (
        "The capital of Zed is Quo. Zed was founded in 1432. Quo was founded by Ilsa Varn, "
        "a weaver. Ilsa Varn was born in Tess."
    )
    got = [(t.subject, t.relation, t.object) for t in extract_triples(text, "c1")]
    assert got == [
        ("Zed", "capital", "Quo"),
        ("Zed", "founded in", "1432"),
        ("Quo", "founded by", "Ilsa Varn"),
        ("Ilsa Varn", "born in", "Tess"),
    ]


def test_kuzu_multi_hop_answers_with_paths(enc_index, encyclopedia, tmp_path):
    graph, n = build_graph(enc_index, tmp_path / "graph")
    assert n == len({(s, r, o) for s, r, o in encyclopedia.facts}) + len(encyclopedia.documents) * 2
    right = 0
    for q in encyclopedia.questions:
        walk = graph.answer(q.question)
        right += walk is not None and walk.answer == q.answer
    assert right == len(encyclopedia.questions)
    two_hop = next(q for q in encyclopedia.questions if q.kind == "two-hop")
    walk = graph.answer(two_hop.question)
    country, capital = two_hop.question.rstrip("?").split()[-1], encyclopedia.facts[0][2]
    assert walk.explain() == f"{country} --capital--> {capital} --founded by--> {two_hop.answer}"
    assert len(walk.citations) >= 1
    stats = analyse(graph)
    assert stats["relations"] == n and stats["components"] == 1  # all share the Ostral Sea
    graph.close()
    reopened = KuzuGraph(tmp_path / "graph" / "graph.kuzu")  # persistent
    assert len(reopened.all_edges()) == n
    reopened.close()


class FakeDriver:
    """Stands in for neo4j.GraphDatabase.driver: records (query, params), returns canned rows."""

    def __init__(self, rows):
        self.calls, self.rows = [], rows

    def session(self, database=None):
        driver = self

        class Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def run(self, query, params):
                driver.calls.append((query, params))

                class Record:
                    def __init__(self, values):
                        self._values = values

                    def values(self):
                        return list(self._values)

                return [Record(r) for r in driver.rows.get(query, [])]

        return Session()

    def close(self):
        pass


def test_neo4j_runs_the_same_cypher():
    driver = FakeDriver({OUTGOING: [("Zed", "capital", "Quo", "c1", "s")]})
    graph = Neo4jGraph("bolt://localhost:7687", driver=driver)
    graph.add([Triple("Zed", "capital", "Quo", "c1", "s")])
    assert driver.calls[:3] == [
        (MERGE_ENTITY, {"name": "Zed"}),
        (MERGE_ENTITY, {"name": "Quo"}),
        (CREATE_REL, {"s": "Zed", "o": "Quo", "rel": "capital", "chunk_id": "c1", "sentence": "s"}),
    ]
    assert graph.edges("Zed") == [Triple("Zed", "capital", "Quo", "c1", "s")]
    import neo4j

    real = Neo4jGraph("bolt://127.0.0.1:1", password="x")  # the driver connects lazily
    assert isinstance(real.driver, neo4j.Driver)
    real.close()


def test_rewrite_and_decompose():
    history = ["What is the capital of Zed?", "Quo"]
    assert rewrite_followup("Who founded it?", history) == "Who founded Quo?"
    assert rewrite_followup("Who founded Quo?", history) == "Who founded Quo?"
    assert decompose("Who founded the capital of Zed?") == [
        "What is the capital of Zed?",
        "Who founded {answer}?",
    ]
    assert decompose("What is the capital of Zed and when was Zed founded?") == [
        "What is the capital of Zed?",
        "When was Zed founded?",
    ]
    assert decompose("What is the capital of Zed?") == ["What is the capital of Zed?"]
    assert decompose("What is the currency of the country of Quo?") == [
        "What is the country of Quo?",
        "What is the currency of {answer}?",
    ]
    assert groundedness("Quo", ["The capital of Zed is Quo."]) == 1.0
    assert groundedness("Paris", ["The capital of Zed is Quo."]) == 0.0


def test_agentic_two_hop_and_chat(enc_index, encyclopedia):
    retriever = Retriever(enc_index)
    two_hop = [q for q in encyclopedia.questions if q.kind == "two-hop"]
    right = 0
    for q in two_hop:
        result = iterative_answer(retriever, q.question)
        right += result.answer == q.answer
        assert len(result.steps) == 2
    assert right == len(two_hop)
    country, capital, founder = (
        encyclopedia.facts[0][0],
        encyclopedia.facts[0][2],
        encyclopedia.facts[4][2],
    )
    chat = ChatSession(retriever)
    assert chat.ask(f"What is the capital of {country}?").answer == capital
    follow = chat.ask("Who founded it?")
    assert follow.rewritten == f"Who founded {capital}?"
    assert follow.answer == founder and follow.grounded
