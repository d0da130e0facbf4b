"""Stage 4, analysis: evaluation, thresholds, comparison, trust, explanations, label errors,
hyperparameter search and the leaderboard. Plain data in, plain data out."""
