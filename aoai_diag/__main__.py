from aoai_diag.cli import run

run()
