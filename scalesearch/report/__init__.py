"""Layer 5, below the Python API (experiments.py): the run folder's one-page
report.html — its sections read from the folder (sections), the page that renders them (page)
and its Jinja2 template. May import coefsearch/, comparison/ and the layers below them."""
