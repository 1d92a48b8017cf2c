"""lmkg: a knowledge graph of learning mechanics. The library: store, embeddings, graph, search, runs."""

__version__ = "0.1.0"
