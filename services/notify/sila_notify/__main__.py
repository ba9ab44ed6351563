"""``python -m sila_notify <role>``."""

from sila_common.cli import main
from sila_notify.service import definition

main(definition)
