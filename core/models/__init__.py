"""Stage 2, models: the catalog of classifiers (the CNN through the optional ``cnn`` extra),
fitting them, and their answers on digits."""
