"""Stage 6, cli: ``python -m core COMMAND``, one module per command."""
