"""Notify's HTTP routers."""
