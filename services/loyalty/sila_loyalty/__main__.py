"""``python -m sila_loyalty <role>``."""

from sila_common.cli import main
from sila_loyalty.service import definition

main(definition)
