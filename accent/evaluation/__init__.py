"""Evaluation of accent classifiers and of the data itself."""
