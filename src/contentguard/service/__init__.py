"""The application shared by every surface."""
