"""Using a trained run: rebuild its model from the run folder and continue text or label
inputs (`predict.py`)."""
