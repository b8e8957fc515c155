"""The study's statistics: per-person and per-group summaries with intervals (study, stats), comparisons of
groups (groups), share estimates corrected for the models' confusions (quantify, corrections) and facial
attention (attention). Nothing here reads files or draws."""
