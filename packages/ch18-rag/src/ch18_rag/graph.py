"""Graph RAG: entities and relations from the chunks into a graph database, multi-hop answers by
walking the graph, with the path as the explanation and the edges' chunks as citations.

Extraction is pattern based (no LLM): "The capital of X is Y" -> (X, capital, Y); "X was founded
by Y" / "X was born in Y" / "X is the largest city of Y" -> (X, <verb phrase>, Y) for capitalised
entity names and years. The store is ``kuzu`` (embedded, persistent, Cypher); the same Cypher
statements run on Neo4j through the official driver (:class:`Neo4jGraph`). networkx gives the
analysis (centrality, components, shortest paths) and the plot.

A question is answered by finding the entity it names, then scoring every walk of up to three
edges by how many of the question's words its relation labels cover (shorter walks win ties); the
walk's last node is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ch18_rag.bm25 import tokenize

CREATE_SCHEMA = [
    "CREATE NODE TABLE IF NOT EXISTS Entity(name STRING, PRIMARY KEY (name))",
    "CREATE REL TABLE IF NOT EXISTS Rel(FROM Entity TO Entity, relation STRING, "
    "chunk_id STRING, sentence STRING)",
]
MERGE_ENTITY = "MERGE (e:Entity {name: $name})"
CREATE_REL = (
    "MATCH (a:Entity {name: $s}), (b:Entity {name: $o}) "
    "CREATE (a)-[:Rel {relation: $rel, chunk_id: $chunk_id, sentence: $sentence}]->(b)"
)
OUTGOING = (
    "MATCH (a:Entity {name: $name})-[r:Rel]->(b:Entity) "
    "RETURN a.name, r.relation, b.name, r.chunk_id, r.sentence"
)
INCOMING = (
    "MATCH (a:Entity)-[r:Rel]->(b:Entity {name: $name}) "
    "RETURN a.name, r.relation, b.name, r.chunk_id, r.sentence"
)
ALL_ENTITIES = "MATCH (e:Entity) RETURN e.name"
ALL_EDGES = (
    "MATCH (a:Entity)-[r:Rel]->(b:Entity) RETURN a.name, r.relation, b.name, r.chunk_id, r.sentence"
)

_NAME = r"[A-Z][\w'-]*(?: [A-Z][\w'-]*)*"
_OF = re.compile(
    rf"^The ([a-z][a-z ]*?) of ({_NAME}) is (?:the |a |an )?([\w'-]+(?: [\w'-]+)*)[.]?$"
)
_VERB = re.compile(rf"^({_NAME}) ((?:[a-z]+ ){{1,5}})(?:the )?({_NAME}|\d{{3,4}})(?:,.*)?[.]?$")


@dataclass(frozen=True)
class Triple:
    subject: str
    relation: str
    object: str
    chunk_id: str = ""
    sentence: str = ""


def extract_triples(text: str, chunk_id: str = "") -> list[Triple]:
    from ch18_rag.reader import split_sentences

    triples = []
    for sentence in split_sentences(text):
        s = sentence.rstrip(".")
        m = _OF.match(s)
        if m:
            triples.append(Triple(m.group(2), m.group(1), m.group(3), chunk_id, sentence))
            continue
        m = _VERB.match(s)
        if m:
            relation = re.sub(r"^(is|are|was|were) ", "", m.group(2).strip())
            triples.append(Triple(m.group(1), relation, m.group(3), chunk_id, sentence))
    return triples


@dataclass
class Walk:
    start: str
    answer: str
    path: list[Triple] = field(default_factory=list)
    score: float = 0.0

    def explain(self) -> str:
        """``A --capital--> B --founded by--> C`` (``<--`` where an edge is walked backwards)."""
        text, node = self.start, self.start
        for t in self.path:
            forward = t.subject == node
            node = t.object if forward else t.subject
            text += f" --{t.relation}--> {node}" if forward else f" <--{t.relation}-- {node}"
        return text

    @property
    def citations(self) -> list[str]:
        return list(dict.fromkeys(t.chunk_id for t in self.path if t.chunk_id))


class GraphStore:
    """Cypher over some backend: subclasses implement ``run(query, params) -> list[tuple]``."""

    def run(self, query: str, params: dict | None = None) -> list[tuple]:
        raise NotImplementedError

    def create_schema(self) -> None:
        for q in CREATE_SCHEMA:
            self.run(q)

    def add(self, triples: list[Triple]) -> int:
        seen = set()
        for t in triples:
            key = (t.subject, t.relation, t.object)
            if key in seen:
                continue
            seen.add(key)
            self.run(MERGE_ENTITY, {"name": t.subject})
            self.run(MERGE_ENTITY, {"name": t.object})
            self.run(
                CREATE_REL,
                {
                    "s": t.subject,
                    "o": t.object,
                    "rel": t.relation,
                    "chunk_id": t.chunk_id,
                    "sentence": t.sentence,
                },
            )
        return len(seen)

    def edges(self, name: str) -> list[Triple]:
        rows = self.run(OUTGOING, {"name": name}) + self.run(INCOMING, {"name": name})
        return [Triple(*row) for row in rows]

    def entities(self) -> list[str]:
        return [row[0] for row in self.run(ALL_ENTITIES)]

    def all_edges(self) -> list[Triple]:
        return [Triple(*row) for row in self.run(ALL_EDGES)]

    def answer(self, question: str, max_hops: int = 3) -> Walk | None:
        """The best walk from the entity the question names (see the module docstring)."""
        names = sorted(self.entities(), key=len, reverse=True)
        start = next((n for n in names if re.search(rf"\b{re.escape(n)}\b", question)), None)
        if start is None:
            return None
        words = set(tokenize(question)) - set(tokenize(start))
        best: Walk | None = None
        frontier = [(start, [])]
        for _ in range(max_hops):
            nxt = []
            for node, path in frontier:
                for t in self.edges(node):
                    if t in path:
                        continue
                    other = t.object if t.subject == node else t.subject
                    walk = [*path, t]
                    covered = set().union(*(set(tokenize(x.relation)) for x in walk)) & words
                    forward = sum(x.subject in (start, *(y.object for y in walk)) for x in walk)
                    score = len(covered) - 0.1 * len(walk) + 0.01 * forward
                    if best is None or score > best.score:
                        best = Walk(start, other, walk, score)
                    nxt.append((other, walk))
            frontier = nxt
        return best if best is not None and best.score > 0 else None


class KuzuGraph(GraphStore):
    """kuzu: an embedded, persistent graph database that speaks Cypher."""

    def __init__(self, path: str | Path) -> None:
        import kuzu

        self.path = Path(path)
        self.db = kuzu.Database(str(self.path))
        self.conn = kuzu.Connection(self.db)
        self.create_schema()

    def run(self, query: str, params: dict | None = None) -> list[tuple]:
        result = self.conn.execute(query, params or {})
        rows = []
        while result.has_next():
            rows.append(tuple(result.get_next()))
        return rows

    def close(self) -> None:
        self.conn.close()
        self.db.close()


class Neo4jGraph(GraphStore):
    """The same Cypher through the official ``neo4j`` driver (bolt:// or neo4j:// URL)."""

    def __init__(
        self,
        url: str,
        user: str = "neo4j",
        password: str = "",
        driver=None,
        database: str | None = None,
    ) -> None:
        if driver is None:
            from neo4j import GraphDatabase

            driver = GraphDatabase.driver(url, auth=(user, password))
        self.driver = driver
        self.database = database

    def create_schema(self) -> None:  # Neo4j is schemaless; a uniqueness constraint stands in
        self.run(
            "CREATE CONSTRAINT entity_name IF NOT EXISTS FOR (e:Entity) REQUIRE e.name IS UNIQUE"
        )

    def run(self, query: str, params: dict | None = None) -> list[tuple]:
        with self.driver.session(database=self.database) as session:
            return [tuple(record.values()) for record in session.run(query, params or {})]

    def close(self) -> None:
        self.driver.close()


def index_triples(index) -> list[Triple]:
    """The triples of every chunk of ``index``, in chunk order, citing their chunk ids."""
    rows = index.table.con.execute("SELECT chunk_id, text FROM chunks ORDER BY position").fetchall()
    return [t for chunk_id, text in rows for t in extract_triples(text, chunk_id)]


def answer_questions(graph: GraphStore, questions: list[str]) -> list[dict]:
    """``{question, answer, path, citations}`` per question ("" and "no path found" if none)."""
    out = []
    for q in questions:
        walk = graph.answer(q)
        out.append(
            {
                "question": q,
                "answer": walk.answer if walk else "",
                "path": walk.explain() if walk else "no path found",
                "citations": walk.citations if walk else [],
            }
        )
    return out


def build_graph(index, path: str | Path) -> tuple[KuzuGraph, int]:
    """Extract triples from every chunk of ``index`` into a fresh kuzu database at ``path``."""
    from llmpath_core import atomic_dir

    triples = index_triples(index)
    path = Path(path)
    with atomic_dir(path) as tmp:
        graph = KuzuGraph(tmp / "graph.kuzu")
        n = graph.add(triples)
        graph.close()
    return KuzuGraph(path / "graph.kuzu"), n


def to_networkx(graph: GraphStore):
    import networkx as nx

    g = nx.MultiDiGraph()
    for t in graph.all_edges():
        g.add_edge(t.subject, t.object, relation=t.relation, chunk_id=t.chunk_id)
    return g


def analyse(graph: GraphStore, top: int = 5) -> dict:
    """Size, weakly connected components, most central entities (degree centrality)."""
    import networkx as nx

    g = to_networkx(graph)
    centrality = nx.degree_centrality(g)
    ranked = sorted(centrality.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {
        "entities": g.number_of_nodes(),
        "relations": g.number_of_edges(),
        "components": nx.number_weakly_connected_components(g),
        "central": [{"entity": n, "degree_centrality": round(c, 4)} for n, c in ranked],
    }


def plot_graph(graph: GraphStore, path: str | Path) -> Path:
    """A PNG of the graph (spring layout), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    from llmpath_core import atomic_write

    g = to_networkx(graph)
    fig, ax = plt.subplots(figsize=(10, 8))
    pos = nx.spring_layout(g, seed=0)
    nx.draw_networkx(g, pos, ax=ax, node_size=300, font_size=7, arrows=True)
    labels = {(a, b): d["relation"] for a, b, d in g.edges(data=True)}
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, font_size=6, ax=ax)
    ax.axis("off")
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


__all__ = [
    "GraphStore",
    "KuzuGraph",
    "Neo4jGraph",
    "Triple",
    "Walk",
    "analyse",
    "answer_questions",
    "build_graph",
    "extract_triples",
    "index_triples",
    "plot_graph",
    "to_networkx",
]
