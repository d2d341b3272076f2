"""Training: set a run up (`session.py`, or `resume.py` for a stopped run), the one loop for
every task (`loop.py`), and what the loop is made of: checkpoints, the nan guard, signals,
gradient-norm logging."""
