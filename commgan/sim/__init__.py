"""Monte Carlo BER engine, sweeps, result tables and plots."""
