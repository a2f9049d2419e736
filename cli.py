"""Run spasmscan from a checkout without installing it: ``python cli.py analyze VIDEO``."""
from spasmscan.cli import main

if __name__ == "__main__":
    main()
