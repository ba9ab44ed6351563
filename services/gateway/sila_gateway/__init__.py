"""The development edge: one base URL (port 8000) routing by path prefix to the services.

In production nginx plays this part (deploy/nginx/nginx.conf, same routing table).
"""
