"""Ratings, complaints and rectification (好差评)."""
