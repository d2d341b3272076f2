from rnnlab.cli import app

app()
