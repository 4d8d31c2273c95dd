"""The numbered notebooks and the runner that executes them headless
(``python -m notebooks``)."""
