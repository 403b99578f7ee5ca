"""intake: takes requests in (staff, web, other government systems) and publishes them."""
