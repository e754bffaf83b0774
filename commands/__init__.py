"""Process entry points: `python -m commands <up|api|worker|ingress|migrate|bootstrap|test|healthcheck>`."""
