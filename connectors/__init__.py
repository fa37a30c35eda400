"""Data sources for pmrecon: Prometheus, Elasticsearch and the saved evidence bundle."""
