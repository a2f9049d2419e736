"""``python -m spasmscan`` runs the ``spasmscan`` command."""
from .cli import main

if __name__ == "__main__":
    main()
