"""One module per benchmark section; ``run.py`` lists them in the order they run."""
