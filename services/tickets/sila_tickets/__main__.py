"""``python -m sila_tickets <role>``."""

from sila_common.cli import main
from sila_tickets.service import definition

main(definition)
