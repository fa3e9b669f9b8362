"""The API tests' fixtures (a published map with drafts, the API clients) for these tests too."""

from tests.api.conftest import api, generous_throttle, reviewer_api, world  # noqa: F401
