"""The hall's public edge: per-client limits, cross-site and header rules, password checks
that cannot starve the server, keys kept apart from the data, proofs for anonymous writers."""
