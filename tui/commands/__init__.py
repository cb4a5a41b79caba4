"""One module per group of verbs; each exposes ``register(subparsers)``."""
