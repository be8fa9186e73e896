"""`python -m chatbot.cli`: the same as the `chatbot` console script."""

from chatbot.cli import main

main()
