"""Stage 5, plots: Plotly figure builders. Each takes plain data and returns a figure; none fits."""
