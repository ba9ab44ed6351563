"""Running Sila on one machine: the supervisor behind ``make run`` and developer tools."""
