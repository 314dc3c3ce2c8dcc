"""ALL-Lab's Django project: cases, slides, analysis runs, review and the LIS API."""
