"""Training: one loop for every hashing method (``run.train``), validated by the evaluator."""
