"""REST routes under /api/ (CONTRACT §6)."""

urlpatterns: list = []
