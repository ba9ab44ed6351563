"""``python -m sila_billing <role>``."""

from sila_billing.service import definition
from sila_common.cli import main

main(definition)
