"""``python -m sila_local``: start the whole system (see ``supervisor``)."""

from sila_local.supervisor import main

main()
