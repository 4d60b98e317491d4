"""Data the protocol reads: published reference accuracies."""
