"""Evaluation of accent classifiers and of the data itself.

scoring (per-accent / total / macro accuracy, confusion matrix, renderings), decode (a checkpoint
over a data dir: predictions, posteriors, embeddings), plots (confusion matrix, embedding
projections, training curves), results_table (experiments side by side, like the papers' Table 2),
linear_baseline (a pooled-FBank floor).  Entry points: accent.bin.score, accent.bin.collect_results.
"""
