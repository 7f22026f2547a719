from aoai_diag.cli import console

console()
