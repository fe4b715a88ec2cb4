"""`python -m vmdr plan draft`: read an estate with the real SDK and write a plan that validates,
with a suggested strategy per VM (the reason as a YAML comment) and a false-friends report.

`request` (the operator's options, checked), `estate` (what was read), `read` (the only I/O:
a few paged lists per resource group), `suggest` (strategies and groups), `findings` (the false
friends), `render` (the YAML text with its comments), `result` (each plan validated, the JSON
document). `vmdr/cli/draft.py` puts them together.
"""
