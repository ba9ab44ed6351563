"""Third parties simulated over their real protocols, each runnable as its own process."""
