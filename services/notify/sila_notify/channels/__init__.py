"""The channels a message can take, each a real protocol adapter behind one interface."""
