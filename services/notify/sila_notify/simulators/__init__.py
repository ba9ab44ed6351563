"""Local stand-ins for the SMS centre (Kannel) and Firebase Cloud Messaging."""
