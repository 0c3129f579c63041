"""A stored model as generation reads it: one build's candidates and probabilities, cached
(``reader``), and a community's over its base (``mixture``)."""
