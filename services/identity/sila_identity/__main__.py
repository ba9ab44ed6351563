"""``python -m sila_identity <role>``."""

from sila_common.cli import main
from sila_identity.service import definition

main(definition)
