//! Machine learning: k-means clustering (our own), preprocessing and model selection.
