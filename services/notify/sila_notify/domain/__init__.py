"""Pure notification rules: SMS length, webhook signatures, quiet hours, templates."""
