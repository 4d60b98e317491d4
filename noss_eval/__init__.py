"""noss-eval: score frozen speech embeddings on the Non-Semantic Speech Benchmark."""

__version__ = "0.1.0"
