"""Cases and their slides: what a lab submits for screening."""
